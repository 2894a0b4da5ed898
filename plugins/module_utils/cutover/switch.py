# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clients moved to the StatefulSet (``to="target"``) or back to the source (``to="source"``).

``plan`` reads everything first and fails before any write when something is missing (the cutover role runs it in
check mode before it blocks the source); ``apply`` then writes in an order that a re-run can finish after an
interruption: ``cutover.service`` first (clients that use it by name write again as soon as it moved: the write
downtime ends there), the previous values saved before a setting changes, the ledger marking the clients' restart
pending before a setting moves, and the restart done (and waited for) last.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.names import service_host
from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import objects, policies
from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.settings import SettingError, pointed, saved_key

# EndpointSlices these controllers manage follow the Service; any other one names addresses by hand (the source's).
SELECTOR_CONTROLLER = "endpointslice-controller.k8s.io"
MIRRORING_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
CONTROLLERS = (SELECTOR_CONTROLLER, MIRRORING_CONTROLLER)
# The Endpoints object the endpoints controller keeps for a Service with a selector carries this label and value.
ENDPOINTS_MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by"
ENDPOINTS_CONTROLLER = "endpoint-controller"


def _label(obj, key):
    return (obj["metadata"].get("labels") or {}).get(key)


class SwitchError(Exception):
    """Something the switch needs is missing or was changed by someone else; the message names it and the fix."""


class Plan:
    def __init__(self, to):
        self.to = to
        self.settings = []    # (client, setting, new value)
        self.saved = {}       # saved key -> previous value, to keep before the settings change
        self.service = []     # objects to apply
        self.remove = []      # (kind, name) to delete
        self.rules = []       # (policy as read, new specs, ledger record)
        self.changes = []     # what changes, in words (no value)

    @property
    def changed(self):
        return bool(self.changes)


def reduced_policy(policy, key, specs):
    """The policy as read, with its spec (or Cilium's specs) replaced by the reduced ones, ready for cluster.replace."""
    return dict(policy, **({"specs": specs} if key == "specs" else {"spec": specs[0]}))


def plan_service(cluster, workload, to):
    """The part of the plan that moves ``cutover.service`` alone (the switch applies it first)."""
    result = Plan(to)
    if workload["cutover"].get("service"):
        _plan_service(cluster, workload, result)
    return result


def plan(cluster, workload, ledger, to, service=True):
    """Everything the switch changes; ``service=False`` leaves ``cutover.service`` out (already moved by plan_service)."""
    result = Plan(to)
    previous = saved_values(cluster, workload)
    for client in workload["clients"]:
        if cluster.get(client["kind"].lower(), client["name"], client["namespace"]) is None:
            raise SwitchError("client %s %s/%s does not exist: create it, or remove it from clients" %
                              (client["kind"], client["namespace"], client["name"]))
        for setting in client["settings"]:
            _plan_setting(cluster, workload, client, setting, previous, result)
    if service and workload["cutover"].get("service"):
        _plan_service(cluster, workload, result)
    if to == "target":
        for rule in workload["cutover"]["remove_rules"]:
            plan_rule_removal(cluster, rule, result)
    else:
        for record in (ledger.get("cutover") or {}).get("removed_rules", []):
            _plan_rule_restore(cluster, record, result)
    return result


def saved_values(cluster, workload):
    found = cluster.get("secret", workload["objects"]["cutover_previous"], workload["namespace"])
    return {key: objects.setting_value(found, key) for key in ((found or {}).get("data") or {})}


def _plan_setting(cluster, workload, client, setting, previous, result):
    where = "%s %s/%s key %s" % (setting["kind"], client["namespace"], setting["name"], setting["key"])
    obj = cluster.get(setting["kind"].lower(), setting["name"], client["namespace"])
    current = objects.setting_value(obj or {}, setting["key"])
    if current is None:
        raise SwitchError("%s (read by %s %s) does not exist: create it, or remove it from clients[].settings"
                          % (where, client["kind"], client["name"]))
    key = saved_key(setting, client["namespace"])
    if result.to == "target":
        try:
            wanted = pointed(current, setting["form"], service_host(workload), objects.client_port(workload)[1])
        except SettingError as exc:
            raise SwitchError("%s %s" % (where, exc)) from None
        if key not in previous and wanted != current:
            result.saved[key] = current
    else:
        wanted = previous.get(key, current)
    if wanted != current:
        result.settings.append((client, setting, wanted))
        result.changes.append("%s: pointed at the %s" % (where, "StatefulSet" if result.to == "target" else "source"))


def _plan_service(cluster, workload, result):
    name = workload["cutover"]["service"]
    wanted = objects.service(workload, result.to)
    current = cluster.get("service", name, workload["namespace"])
    selector = ((current or {}).get("spec") or {}).get("selector")
    slice_name = workload["objects"]["source_endpoints"]
    slices = cluster.list("endpointslice", workload["namespace"], "kubernetes.io/service-name=%s" % name)
    manual = [item["metadata"]["name"] for item in slices if _label(item, objects.MANAGED_BY_LABEL) not in CONTROLLERS]
    # When a selector is removed, the controllers leave its EndpointSlices and its Endpoints object in place, and the
    # mirroring controller then copies that Endpoints object into a new slice: kube-proxy would go on sending part of
    # the Service's connections to the pods they name. All of them go with the selector.
    endpoints = cluster.get("endpoints", name, workload["namespace"]) if result.to == "source" else None
    selected_endpoints = bool(endpoints) and _label(endpoints, ENDPOINTS_MANAGED_BY_LABEL) == ENDPOINTS_CONTROLLER
    of_selector = (SELECTOR_CONTROLLER, MIRRORING_CONTROLLER) if selected_endpoints else (SELECTOR_CONTROLLER,)
    selected = [item["metadata"]["name"] for item in slices if _label(item, objects.MANAGED_BY_LABEL) in of_selector]
    has_slice = slice_name in manual
    if result.to == "target" and (selector != wanted["spec"]["selector"] or manual or current is None):
        result.service.append(wanted)
        result.remove += [("endpointslice", each) for each in manual]
        result.changes.append("Service %s/%s: selects the StatefulSet's pods%s" % (
            workload["namespace"], name, " (EndpointSlice %s deleted)" % ", ".join(manual) if manual else ""))
    elif result.to == "source" and (selector or not has_slice or current is None or selected or selected_endpoints):
        result.service += [wanted, objects.source_endpoint_slice(workload)]
        gone = ([("endpoints", name)] if selected_endpoints else []) + [("endpointslice", each) for each in selected]
        result.remove += gone
        named = ["%s %s" % ("Endpoints" if kind == "endpoints" else "EndpointSlice", each) for kind, each in gone]
        result.changes.append("Service %s/%s: points at the source %s%s" % (
            workload["namespace"], name, workload["source"]["address"],
            " (%s of its selector deleted)" % ", ".join(named) if named else ""))


def plan_rule_removal(cluster, rule, result):
    where = "%s %s/%s" % (rule["kind"], rule["namespace"], rule["name"])
    if not cluster.resource_known(rule["kind"]):
        raise SwitchError("%s: the cluster does not serve %s (is its CRD installed?); remove this entry from cutover.remove_rules"
                          % (where, rule["kind"]))
    policy = cluster.get(rule["kind"], rule["name"], rule["namespace"])
    if policy is None:
        raise SwitchError("%s does not exist: remove it from cutover.remove_rules, or fix its name" % where)
    key, specs = policies.specs_of(policy)
    reduced = [policies.without_cidr(rule["kind"], spec, rule["cidr"]) for spec in specs]
    if sum(count for _spec, count in reduced):
        record = dict(rule, before=[policies.rule_lists(rule["kind"], s) for s in specs],
                      after=[policies.rule_lists(rule["kind"], s) for s, _count in reduced])
        result.rules.append((policy, key, [s for s, _count in reduced], record))
        result.changes.append("%s: rules naming %s removed" % (where, rule["cidr"]))


def _plan_rule_restore(cluster, record, result):
    where = "%s %s/%s" % (record["kind"], record["namespace"], record["name"])
    policy = cluster.get(record["kind"], record["name"], record["namespace"])
    if policy is None:
        raise SwitchError("%s, whose rules naming %s the cutover removed, no longer exists: re-create it, then re-run"
                          % (where, record["cidr"]))
    key, specs = policies.specs_of(policy)
    now = [policies.rule_lists(record["kind"], spec) for spec in specs]
    if now == record["before"]:
        return
    if now != record["after"]:
        raise SwitchError("%s was changed since the cutover removed its rules naming %s; put them back by hand (the ledger's "
                          "cutover.removed_rules holds them), then re-run" % (where, record["cidr"]))
    restored = [dict(spec, **before) for spec, before in zip(specs, record["before"])]
    result.rules.append((policy, key, restored, record))
    result.changes.append("%s: rules naming %s put back" % (where, record["cidr"]))
