# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a switch plan (switch.py) and restart the clients, recording each step in the ledger."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import ledger as ledgers
from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import objects, switch

# direction -> (the ledger state the switch runs in, the event that keeps recording into it)
RUNS_IN = {"target": (ledgers.CUTTING_OVER, "cutover_started"), "source": (ledgers.ROLLING_BACK, "rollback_started")}
FINISHED = {"target": ledgers.CUT_OVER, "source": ledgers.ROLLED_BACK}


def move(cluster, workload, to, emit, rollout_timeout=300):
    """Move the clients ``to`` target or source. Returns {changed, changes, restarted}."""
    ledger = ledgers.read(cluster, workload)
    state, event = RUNS_IN[to]
    playbook = "cutover" if to == "target" else "rollback"
    if ledger["state"] not in (state, FINISHED[to]) and not cluster.check_mode:
        raise switch.SwitchError("the ledger of %s says %s, not %s: switch clients only from the %s playbook"
                                 % (workload["name"], ledger["state"], state, playbook))
    moving = ledger["state"] == state and not cluster.check_mode
    moved = switch.plan_service(cluster, workload, to) if moving else None
    if moved:
        _move_service(cluster, workload, moved)
    plan = switch.plan(cluster, workload, ledger, to, service=not moving)
    plan.changes[:0] = moved.changes if moved else []
    if ledger["state"] == FINISHED[to]:
        if plan.changed:
            raise switch.SwitchError("the ledger of %s says %s, yet %s: someone changed it since; run the %s playbook again"
                                     % (workload["name"], ledger["state"], "; ".join(plan.changes), playbook))
        return {"changed": False, "changes": [], "restarted": []}
    phase = ledgers.PHASE_OF[event]
    pending = (ledger.get(phase) or {}).get("clients_restart_pending", False)
    restart = bool(workload["clients"]) and (plan.changed or pending)
    if cluster.check_mode:
        return {"changed": plan.changed or restart, "changes": plan.changes, "restarted": _names(workload) if restart else []}
    if plan.changed:
        removed = list((ledger.get(phase) or {}).get("removed_rules", [])) if to == "target" else None
        ledger = _record(cluster, workload, ledger, event, clients_restart_pending=bool(workload["clients"]))
        _apply(cluster, workload, plan, emit)
        if to == "target" and plan.rules:
            ledger = _record(cluster, workload, ledger, event, removed_rules=removed + [record for *_x, record in plan.rules])
    if restart:
        restarted = _restart(cluster, workload, emit, rollout_timeout)
        ledger = _record(cluster, workload, ledger, event, clients_restart_pending=False, clients_restarted=restarted)
    if to == "source" and (plan.changed or restart):
        cluster.delete("secret", workload["objects"]["cutover_previous"], workload["namespace"])
    return {"changed": plan.changed or restart, "changes": plan.changes, "restarted": _names(workload) if restart else []}


def _record(cluster, workload, ledger, event, **record):
    updated = ledgers.advanced(ledger, event, record)
    if updated is not ledger:
        ledgers.write(cluster, workload, updated)
    return updated


def _move_service(cluster, workload, plan):
    for body in plan.service:
        cluster.apply(body)
    for kind, name in plan.remove:
        cluster.delete(kind, name, workload["namespace"])


def _apply(cluster, workload, plan, emit):
    if plan.saved:
        current = switch.saved_values(cluster, workload)
        cluster.apply(objects.saved_settings(workload, dict(current, **plan.saved)))
    for client, setting, value in plan.settings:
        patch = objects.setting_patch(setting["kind"], setting["key"], value)
        cluster.merge_patch(setting["kind"], setting["name"], client["namespace"], patch)
        emit("%s: %s %s/%s key %s switched" % (workload["name"], setting["kind"], client["namespace"], setting["name"],
                                               setting["key"]))
    for policy, key, specs, _record_of in plan.rules:
        cluster.replace(switch.reduced_policy(policy, key, specs))
    for change in plan.changes:
        emit("%s: %s" % (workload["name"], change))


def _restart(cluster, workload, emit, timeout):
    at = ledgers.utc_now()
    for client in workload["clients"]:
        cluster.merge_patch(client["kind"], client["name"], client["namespace"], objects.restart(at))
    for client in workload["clients"]:
        emit("%s: waiting for %s %s/%s to restart" % (workload["name"], client["kind"], client["namespace"], client["name"]))
        cluster.rollout(client["kind"], client["name"], client["namespace"], timeout)
    return at


def _names(workload):
    return ["%s %s/%s" % (c["kind"], c["namespace"], c["name"]) for c in workload["clients"]]
