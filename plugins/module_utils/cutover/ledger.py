# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger: one ConfigMap per workload (``objects.ledger``) that says where its clients are and how they got there.

``state`` is one of STATES; ``cutover``, ``rollback`` and ``retire`` hold what each phase recorded (timestamps, the final sync's
LSN, row counts and checksums, versions, the backup and its sha256, what was switched and removed); ``history`` lists
every event with its time. The rollback phase reads it, and the retire phase counts the soak time from ``cutover_finished_at``.
"""

from __future__ import annotations

import datetime
import json

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import FIELD_MANAGER

NONE, CUTTING_OVER, CUT_OVER, ROLLING_BACK, ROLLED_BACK = "none", "cutting_over", "cut_over", "rolling_back", "rolled_back"
RETIRING, RETIRED = "retiring", "retired"
STATES = (NONE, CUTTING_OVER, CUT_OVER, ROLLING_BACK, ROLLED_BACK, RETIRING, RETIRED)
# event -> (the states it may follow, the state it leaves)
EVENTS = {
    "cutover_started": ((NONE, CUTTING_OVER, ROLLED_BACK), CUTTING_OVER),
    "cutover_finished": ((CUTTING_OVER,), CUT_OVER),
    "rollback_started": ((CUTTING_OVER, CUT_OVER, ROLLING_BACK), ROLLING_BACK),
    "rollback_finished": ((ROLLING_BACK,), ROLLED_BACK),
    "retire_started": ((CUT_OVER, RETIRING), RETIRING),
    "retire_finished": ((RETIRING,), RETIRED),
}
PHASE_OF = {"cutover_started": "cutover", "cutover_finished": "cutover", "rollback_started": "rollback",
            "rollback_finished": "rollback",
            "retire_started": "retire", "retire_finished": "retire"}


class LedgerError(Exception):
    """An event that does not follow the ledger's state; the message says what to run instead."""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def read(cluster, workload):
    """The ledger as a dict (``state`` NONE when there is none)."""
    found = cluster.get("configmap", workload["objects"]["ledger"], workload["namespace"])
    data = (found or {}).get("data") or {}
    ledger = {key: json.loads(value) for key, value in data.items()}
    ledger.setdefault("state", NONE)
    ledger.setdefault("history", [])
    return ledger


def advanced(ledger, event, record=None, at=None):
    """The ledger after ``event`` (a new dict); the same ledger when ``event`` was the last one and ``record`` adds nothing."""
    if event not in EVENTS:
        raise LedgerError("unknown event %r: use one of %s" % (event, ", ".join(EVENTS)))
    follows, state = EVENTS[event]
    phase, record = PHASE_OF[event], record or {}
    repeated = ledger["state"] == state and ledger["history"] and ledger["history"][-1]["event"] == event
    if repeated:
        section = ledger.get(phase) or {}
        return ledger if all(section.get(k) == v for k, v in record.items()) else dict(ledger, **{phase: dict(section, **record)})
    if ledger["state"] not in follows:
        raise LedgerError("the ledger says %s, and %s cannot follow it: %s" % (ledger["state"], event, what_to_run(ledger["state"])))
    at = at or utc_now()
    fresh = event.endswith("_started") and ledger["state"] != state
    section = dict(record if fresh else dict(ledger.get(phase) or {}, **record))
    section["%s_at" % event] = at
    return dict(ledger, state=state, history=[*ledger["history"], {"event": event, "at": at}], **{phase: section})


def what_to_run(state):
    return {CUT_OVER: "the workload is cut over; roll back with the rollback playbook, or go on to retire",
            ROLLING_BACK: "a rollback did not finish; run the rollback playbook again",
            ROLLED_BACK: "the workload is rolled back; run the cutover playbook to cut over again",
            CUTTING_OVER: "a cutover did not finish; run the cutover playbook again, or the rollback playbook",
            NONE: "nothing was cut over yet; run the cutover playbook",
            RETIRING: "a retirement did not finish (its source may be stopped already); run the retire playbook again",
            RETIRED: "the source was retired: its containers are stopped and archived, there is nothing to go back to"}[state]


def write(cluster, workload, ledger):
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": workload["objects"]["ledger"], "namespace": workload["namespace"],
                         "labels": dict(workload["labels"], **{"app.kubernetes.io/component": "ledger"})},
            "data": {key: json.dumps(value, sort_keys=True) for key, value in ledger.items()}}
    cluster.apply(body)
    return FIELD_MANAGER
