# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Synology NAS must hold for a k3s NFS share, compared with what it holds: the NFS service (turned on, never
turned off or down), the shared folder on its volume, and the share's client rules.

DSM's ``SharePrivilege save`` replaces the whole rule list, so the new list keeps every rule for a client the
desired rules do not name. A kept rule whose client overlaps a desired one (10.0.0.0/24 and 10.0.0.5, or *) would make
the effective squash and privilege depend on DSM's order: it is refused, as is a shared folder that exists on another
volume and a node address no read-write rule covers. Nothing is written unless every check passes.
"""

from __future__ import annotations

import ipaddress

SQUASH = ("root", "admin", "guest", "all_admin", "all_guest")
FLAVORS = ("sys", "kerberos", "kerberos_integrity", "kerberos_privacy")


class PlanError(Exception):
    """What is on the NAS conflicts with what is asked; nothing was changed. The message says what to do."""


def dsm_rule(rule):
    """A desired rule as DSM's SharePrivilege takes it."""
    return {"client": rule["client"], "privilege": rule["privilege"], "root_squash": rule["squash"], "async": rule["async"],
            "insecure": rule["insecure"], "crossmnt": rule["crossmnt"],
            "security_flavor": {flavor: flavor == rule["security"] for flavor in FLAVORS}}


def comparable(rule):
    """A DSM rule without what DSM adds (id) and with its flags as booleans."""
    flavor = rule.get("security_flavor") or {}
    return {"client": rule.get("client"), "privilege": rule.get("privilege"), "root_squash": rule.get("root_squash"),
            "async": bool(rule.get("async")), "insecure": bool(rule.get("insecure")), "crossmnt": bool(rule.get("crossmnt")),
            "security_flavor": {name: bool(flavor.get(name)) for name in FLAVORS}}


def network(client):
    try:
        return ipaddress.ip_network(client, strict=False)
    except ValueError:
        return None


def overlaps(one, other):
    if one == other or "*" in (one, other):
        return True
    first, second = network(one), network(other)
    return first is not None and second is not None and first.version == second.version and first.overlaps(second)


def nfs_settings(current, version):
    """The whole NFS settings object with the service (and NFSv4, 4.1) turned on, or None when it already is."""
    wanted = dict(current)
    wanted["enable_nfs"] = True
    if version in ("4", "4.1"):
        wanted["enable_nfs_v4"] = True
    if version == "4.1" and int(current.get("enabled_minor_ver") or 0) < 1:
        wanted["enabled_minor_ver"] = 1
    return None if wanted == current else wanted


def rules_after(current_rules, desired, share):
    """The share's whole rule list after the change: kept rules first (as DSM gave them), then the desired ones."""
    named = {rule["client"] for rule in desired}
    kept = [rule for rule in current_rules if rule.get("client") not in named]
    for rule in kept:
        clash = next((wanted["client"] for wanted in desired if overlaps(rule["client"], wanted["client"])), None)
        if clash:
            raise PlanError("shared folder %s has a rule for %s, which overlaps the rule asked for %s: which one applies would "
                            "depend on DSM's order. Remove or change that rule in DSM (Control Panel > Shared Folder > %s > NFS "
                            "Permissions), or ask for a rule for %s itself" % (share, rule["client"], clash, share, rule["client"]))
    return kept + [dsm_rule(rule) for rule in desired]


def covers(client, address):
    """Whether a rule for ``client`` (an address, a subnet or *) lets ``address`` in."""
    if client in ("*", address):
        return True
    subnet, host = network(client), network(address)
    return subnet is not None and host is not None and subnet.version == host.version and host.subnet_of(subnet)


def uncovered(nodes, desired):
    """Node addresses no read-write desired rule lets in."""
    writable = [rule["client"] for rule in desired if rule["privilege"] == "rw"]
    return [node for node in nodes if not any(covers(client, node) for client in writable)]


def plan(current, desired):
    """{'nfs': settings to set or None, 'create_share': shareinfo or None, 'rules': rule list to save or None} from
    ``current`` {'nfs', 'share' (or None), 'rules'} and ``desired`` (the module's options)."""
    share = desired["share"]
    existing = current["share"]
    if existing is not None and existing.get("vol_path") != desired["volume"]:
        raise PlanError("shared folder %s exists on %s, not on %s: set volume to %s, or use another share name"
                        % (share, existing.get("vol_path"), desired["volume"], existing.get("vol_path")))
    missing = uncovered(desired["node_addresses"], desired["rules"])
    if missing:
        raise PlanError("no read-write rule of shared folder %s covers the node address(es) %s: add their subnet to the rules' "
                        "clients (the nodes could not mount the share)" % (share, ", ".join(missing)))
    create = None
    if existing is None:
        create = {"name": share, "vol_path": desired["volume"], "desc": desired["description"], "name_org": "", "hidden": False,
                  "enable_recycle_bin": False, "recycle_bin_admin_only": False, "hide_unreadable": False, "enable_share_cow": False,
                  "enable_share_compress": False, "share_quota": 0, "encryption": False}
    before = current["rules"] if existing is not None else []
    after = rules_after(before, desired["rules"], share)
    return {"nfs": nfs_settings(current["nfs"], desired["nfs_version"]), "create_share": create,
            "rules": None if by_client(after) == by_client(before) else after, "rules_before": before}


def by_client(rules):
    """A rule list as DSM applies it, whatever order it lists the rules in."""
    return {rule.get("client"): comparable(rule) for rule in rules}


def summary(nfs, share, rules):
    """What --diff shows of the NAS."""
    return {"nfs": {key: nfs.get(key) for key in ("enable_nfs", "enable_nfs_v4", "enabled_minor_ver")},
            "share": {"name": share["name"], "volume": share["vol_path"]} if share else None,
            "rules": rules}
