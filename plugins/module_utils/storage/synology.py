# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""synology_nfs's work on one DSM session: read the NAS, plan (storage/nfs_share.py), write what differs."""

from __future__ import annotations

import posixpath
import re

from ansible_collections.stateshift.k3s.plugins.module_utils.storage import nfs_share
from ansible_collections.stateshift.k3s.plugins.module_utils.storage.classes import NFS_VERSIONS
from ansible_collections.stateshift.k3s.plugins.module_utils.storage.dsm import DsmError

NFS_API, SHARE_API, RULES_API = "SYNO.Core.FileServ.NFS", "SYNO.Core.Share", "SYNO.Core.FileServ.NFS.SharePrivilege"
NFS_VERSION = 3
_SHARE_NAME = re.compile(r"^[^/\\:*?\"<>|=+,;@\[\]`#%&'.$^ ][^/\\:*?\"<>|=+,;@\[\]`#%&'$^]{0,31}$")
_VOLUME = re.compile(r"^/volume(USB)?\d+$")
_CLIENT = re.compile(r"^(\*|[A-Za-z0-9][A-Za-z0-9.:/*-]{0,252})$")

RULE_SPEC = {"client": {"type": "str", "required": True},
             "privilege": {"type": "str", "choices": ["rw", "ro"], "default": "rw"},
             "squash": {"type": "str", "choices": list(nfs_share.SQUASH), "default": "root"},
             "async": {"type": "bool", "default": False}, "insecure": {"type": "bool", "default": True},
             "crossmnt": {"type": "bool", "default": True},
             "security": {"type": "str", "choices": list(nfs_share.FLAVORS), "default": "sys"}}
ARGUMENT_SPEC = {
    "url": {"type": "str", "required": True}, "username": {"type": "str", "required": True},
    "password": {"type": "str", "required": True, "no_log": True}, "validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 30}, "volume": {"type": "str", "default": "/volume1"},
    "share": {"type": "str", "required": True},
    "description": {"type": "str", "default": "Kubernetes persistent volumes (stateshift.k3s)"},
    "nfs_version": {"type": "str", "choices": list(NFS_VERSIONS), "default": "4.1"},
    "rules": {"type": "list", "elements": "dict", "required": True, "options": RULE_SPEC},
    "node_addresses": {"type": "list", "elements": "str", "default": []},
}


def share_problems(volume, share):
    """The volume's and the shared folder name's problems, as ``field = value: problem; fix``."""
    problems = []
    if not isinstance(volume, str) or not _VOLUME.match(volume):
        problems.append("volume = %r: is not a DSM volume; write it like /volume1" % (volume,))
    if not isinstance(share, str) or not _SHARE_NAME.match(share):
        problems.append("share = %r: is not a shared folder name DSM takes; use letters, digits, '-' and '_' (at most 32)" % (share,))
    return problems


def option_problems(params):
    """Every option DSM would refuse or misread, each with its fix (before any call)."""
    problems = share_problems(params["volume"], params["share"])
    if not re.match(r"^https?://[^/\s]+/?$", params["url"]):
        problems.append("url = %r: is not DSM's address; write it like https://192.168.1.5:5001" % params["url"])
    if not params["rules"]:
        problems.append("rules: is empty; give at least one client rule, e.g. {client: 192.168.1.0/24}")
    clients = [rule["client"] for rule in params["rules"]]
    for index, client in enumerate(clients):
        if not _CLIENT.match(client):
            problems.append("rules[%d].client = %r: is not an address, subnet, host name or *" % (index, client))
        elif client in clients[:index]:
            problems.append("rules[%d].client = %r: is named twice; give each client one rule" % (index, client))
    for address in params["node_addresses"]:
        if nfs_share.network(address) is None or "/" in address:
            problems.append("node_addresses: %r is not an IP address" % address)
    return problems


def read(dsm, share):
    """What the NAS holds now: {'nfs', 'share' (or None), 'rules'}."""
    settings = dsm.call(NFS_API, NFS_VERSION, "get")
    shares = dsm.call(SHARE_API, 1, "list", additional=["vol_path"], offset=0, limit=-1).get("shares") or []
    found = next((item for item in shares if item.get("name") == share), None)
    rules = dsm.call(RULES_API, 1, "load", share_name=share).get("rule") or [] if found else []
    return {"nfs": settings, "share": found, "rules": rules}


class PartlyDone(Exception):
    """A write failed after others were made; ``actions`` lists those made."""

    def __init__(self, message, actions):
        super().__init__(message)
        self.actions = actions


def converge(dsm, params, check_mode):
    """Read, plan, and (unless check_mode) write: {'actions', 'export', 'rules', 'diff'}. A DSM refusal after a first write
    raises PartlyDone naming what was written (a re-run finishes the job)."""
    actions = []
    try:
        return _converge(dsm, params, check_mode, actions)
    except DsmError as exc:
        if actions and not check_mode:
            raise PartlyDone("%s (already done: %s; a re-run finishes the job)" % (exc, "; ".join(actions)), list(actions)) from None
        raise


def _converge(dsm, params, check_mode, actions):
    share = params["share"]
    current = read(dsm, share)
    wanted = nfs_share.plan(current, dict(params, rules=[dict(rule) for rule in params["rules"]]))
    # the shared folder first: DSM refuses a volume it lacks there, before anything else is changed
    if wanted["create_share"] is not None:
        if not check_mode:
            dsm.call(SHARE_API, 1, "create", name=share, shareinfo=wanted["create_share"])
        actions.append("create shared folder %s on %s" % (share, params["volume"]))
    if wanted["nfs"] is not None:
        if not check_mode:
            dsm.call(NFS_API, NFS_VERSION, "set", **wanted["nfs"])
        actions.append("turn on NFS (v%s)" % params["nfs_version"])
    rules = wanted["rules"] if wanted["rules"] is not None else wanted["rules_before"]
    if wanted["rules"] is not None:
        if not check_mode:
            dsm.call(RULES_API, 1, "save", share_name=share, rule=rules)
        actions.append("save %d NFS rule(s) of %s" % (len(rules), share))
    after_share = current["share"] or {"name": share, "vol_path": params["volume"]}
    diff = {"before": nfs_share.summary(current["nfs"], current["share"], [nfs_share.comparable(rule) for rule in wanted["rules_before"]]),
            "after": nfs_share.summary(wanted["nfs"] or current["nfs"], after_share, rules)}
    return {"actions": actions, "export": posixpath.join(params["volume"], share), "rules": rules, "diff": diff}
