# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The retire phase's gates, each a Gate that passed or was refused with its reason and what to do.

Every gate is checked before anything is stopped, and all of them are reported at once, so one run shows a person
everything that still stands in the way. The inputs are plain data (the ledger, the restore drill's output lines, the
StatefulSet, samples of the source's sessions) so that each rule can be tested alone.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import ledger as ledgers

STAMP = "%Y%m%dT%H%M%SZ"
# The restore script's line for one database (k8s/objects/backup_scripts.py, MODE=drill).
DRILL_PASSED = re.compile(r"^restore drill passed: (?P<backup>(?P<database>.+)-(?P<stamp>\d{8}T\d{6}Z)\.dump) restored and "
                          r"verified \((?P<checked>.*)\); scratch database dropped$")
SHA_CHECKED = "sha256 matches"


@dataclasses.dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str

    def as_dict(self):
        return dataclasses.asdict(self)


def parse_time(text):
    """A ledger time (``2026-12-02T04:00:00.000000Z``) or a backup stamp (``20261202T040000Z``), as an aware datetime."""
    for layout in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", STAMP):
        try:
            return datetime.datetime.strptime(text, layout).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    raise ValueError("not a UTC time: %r" % text)


def cutover_time(ledger):
    return parse_time(ledger["cutover"]["cutover_finished_at"])


def state(ledger):
    """The ledger's gate: only a workload that is cut over may be retired."""
    if ledger["state"] == ledgers.CUT_OVER:
        return Gate("cut over", True, "cut over at %s" % ledger["cutover"]["cutover_finished_at"])
    return Gate("cut over", False, "the ledger says %s: %s" % (ledger["state"], ledgers.what_to_run(ledger["state"])))


def soak(ledger, soak_days, now):
    """The soak period since the cutover has passed."""
    since = cutover_time(ledger)
    until = since + datetime.timedelta(days=soak_days)
    if now >= until:
        return Gate("soak period", True, "%s since the cutover, retire.soak_days %d" % (_span(now - since), soak_days))
    return Gate("soak period", False, "cut over %s ago, and retire.soak_days is %d: the source may be retired from %s (in %s); "
                                      "wait, or lower retire.soak_days" % (_span(now - since), soak_days,
                                                                           until.strftime("%Y-%m-%d %H:%M UTC"), _span(until - now)))


def _span(delta):
    seconds = max(int(delta.total_seconds()), 0)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes = seconds // 60
    if days:
        return "%d d %d h" % (days, hours)
    if hours:
        return "%d h %d min" % (hours, minutes)
    return "%d min %d s" % (minutes, seconds % 60)


def backups(drill_lines, databases, ledger, check_mode=False):
    """A backup of every database taken after the cutover, restored and verified by the drill with its sha256 matching.
    ``drill_lines``: the restore drill's output (None: the drill did not run, which only check mode lets pass)."""
    if drill_lines is None:
        if check_mode:
            return Gate("verified backup", True, "not checked in check mode: a real run restores the newest backup of every "
                                                 "database and checks it first")
        return Gate("verified backup", False, "no restore drill output was given: run the workload's restore drill after the "
                                              "cutover and pass its output (the retirement role does)")
    since = cutover_time(ledger)
    passed = {}
    for line in drill_lines:
        found = DRILL_PASSED.match(line.strip())
        if found:
            passed[found.group("database")] = found
    problems, checked = [], []
    for database in databases:
        found = passed.get(database)
        if found is None:
            problems.append("the restore drill did not pass for %s" % database)
        elif parse_time(found.group("stamp")) <= since:
            problems.append("the newest backup of %s, %s, was taken before the cutover (%s)"
                            % (database, found.group("backup"), ledger["cutover"]["cutover_finished_at"]))
        elif SHA_CHECKED not in found.group("checked"):
            problems.append("backup %s has no recorded sha256 to check it against" % found.group("backup"))
        else:
            checked.append(found.group("backup"))
    if problems:
        said = [line.strip() for line in drill_lines if line.strip() and not DRILL_PASSED.match(line.strip())]
        return Gate("verified backup", False, "; ".join(problems) + (" (the drill said: %s)" % said[-1][-400:] if said else "")
                    + ": let the backup CronJob run after the cutover (or run the databases phase with "
                      "-e postgresql_backup_now=true, or this one with -e retirement_backup_now=true), then retire")
    return Gate("verified backup", True, "restored, sha256 and row counts checked: %s" % ", ".join(checked))


def target(statefulset, answer):
    """The StatefulSet has every replica ready and its primary accepts writes. ``statefulset``: the object (None when it is
    missing); ``answer``: the primary's ``{"recovery": bool}``, or the error text when it did not answer."""
    if statefulset is None:
        return Gate("target healthy", False, "the StatefulSet is missing: run the databases phase")
    wanted = statefulset.get("spec", {}).get("replicas", 1)
    ready = statefulset.get("status", {}).get("readyReplicas", 0) or 0
    if wanted < 1 or ready < wanted:
        return Gate("target healthy", False, "the StatefulSet %s has %d of %d replicas ready: see kubectl describe statefulset %s"
                                             % (statefulset["metadata"]["name"], ready, wanted, statefulset["metadata"]["name"]))
    if isinstance(answer, str):
        return Gate("target healthy", False, "its primary does not answer: %s" % answer)
    if answer.get("recovery"):
        return Gate("target healthy", False, "its primary is in recovery (read-only): wait for a leader")
    return Gate("target healthy", True, "%d of %d replicas ready, primary accepts writes" % (ready, wanted))


def client_sessions(samples, seconds):
    """No client session on the source during the watch. ``samples``: one list of sessions per look, each session a dict
    with pid, user, address, application and database; or the error text when the source did not answer."""
    if isinstance(samples, str):
        return Gate("no clients", False, "the source did not answer while its sessions were watched: %s" % samples)
    seen = {}
    for sample in samples:
        for session in sample:
            key = (session.get("user"), session.get("address"), session.get("application") or "", session.get("database"))
            seen.setdefault(key, set()).add(session.get("pid"))
    if not seen:
        return Gate("no clients", True, "no client session in %d looks over %d s" % (len(samples), seconds))
    who = ["%s from %s%s on %s (%d session%s)" % (user, address, " (%s)" % application if application else "", database,
                                                  len(pids), "" if len(pids) == 1 else "s")
           for (user, address, application, database), pids in sorted(seen.items(), key=lambda item: tuple(map(str, item[0])))]
    return Gate("no clients", False, "clients still use the source during the %d s watch: %s; stop them or point them at the "
                                     "StatefulSet's Service, then retire" % (seconds, "; ".join(who)))


def refusal(workload, gates):
    refused = [gate for gate in gates if not gate.passed]
    return "%s is not retired, nothing was stopped: %s" % (workload, "; ".join("%s: %s" % (g.name, g.detail) for g in refused))
