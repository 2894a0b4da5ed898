"""Write the benchmark figures into the README, from the newest results of `make bench` (never typed by hand).

    python -m bench.readme [--migration bench/results/migration-<date>.json] [--cutover bench/results/cutover-<date>.json]
                           [--failover bench/results/failover-<date>.json]

The README holds each block between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; everything else is
left as it is. A block whose results are missing is left as it is, and the command says so.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import statistics
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
RESULTS = REPO / "bench" / "results"
MIGRATION_ROWS = (
    ("runbook", "runbook (plain `pg_dump` > file, `scp`, `kubectl cp`, `psql -f`)"),
    ("pg_dump_fd", "`pg_dump -Fd -j2` + `pg_restore -j2`"),
    ("pgcopydb", "`pgcopydb clone`"),
    ("best_tools", "best tools with our guarantees: `pg_dump -Fc` backup + `pgcopydb clone` + both sides' row hashes compared"),
    ("ours_job", "ours, Job, backup + checksum verification"),
    ("ours_lean", "ours, Job, no backup, count verification"),
    ("ours_stream", "ours, stream through the controller, backup + checksum"),
    ("ours_resume", "ours, Job, tables in parts of 128 MiB: the re-run after a copy interrupted at half its bytes"),
)
GOAL_TEXT = {"ours_job_over_runbook": "ours / runbook", "ours_job_over_best_tools": "ours / best tools",
             "ours_lean_over_pgcopydb": "ours without backup / `pgcopydb clone`",
             "ours_resume_over_ours_job": "re-run after an interruption at half / a whole run"}


def newest(pattern):
    found = sorted(glob.glob(str(RESULTS / pattern)))
    return Path(found[-1]) if found else None


def seconds(value):
    return "—" if value is None else ("%.2f s" % value if value < 10 else "%.1f s" % value)


def loopback_datasets(result):
    """The datasets measured on the loopback link (or without a link), largest first."""
    entries = [entry for entry in result["datasets"].values() if entry.get("link") in (None, "loopback")]
    return sorted(entries, key=lambda entry: -(entry.get("size_bytes") or 0))


def wrapped(text):
    return textwrap.fill(text, width=118, break_long_words=False, break_on_hyphens=False)


def migration_block(result):
    entries = loopback_datasets(result)
    rounds = max((info["runs"] for entry in entries for info in entry["methods"].values()), default=0)
    environment = result["environment"]
    heading = ("Migration, from `bench/migration/run.sh` on %s (git %s, %s CPUs, %s, %s; up to %d rounds per method, "
               "medians; loopback link):")
    figures = (result["date"], environment.get("git"), environment.get("cpus"), environment.get("pg_dump"),
               environment.get("pgcopydb") or "no pgcopydb", rounds)
    lines = [wrapped(heading % figures), ""]
    lines.append("| method | %s |" % " | ".join("%s (%.0f MiB)" % (entry["dataset"], (entry.get("size_bytes") or 0) / 2**20)
                                                for entry in entries))
    lines.append("|---|" + "---|" * len(entries))
    for method, label in MIGRATION_ROWS:
        cells = []
        for entry in entries:
            info = entry["methods"].get(method)
            if not info:
                cells.append("—")
                continue
            if info["median_s"] is None and info.get("not_resumed_runs"):
                cells.append("— (not interrupted: the copy was one batch of small tables)")
                continue
            cell = seconds(info["median_s"])
            if info.get("copy_median_s"):
                cell += " (copy %s)" % seconds(info["copy_median_s"])
            if info["ok_runs"] < info["runs"]:
                cell += " (%d of %d runs failed)" % (info["runs"] - info["ok_runs"], info["runs"])
            cells.append(cell)
        if any(cell != "—" for cell in cells):
            lines.append("| %s | %s |" % (label, " | ".join(cells)))
    lines.append("")
    goals = []
    for entry in entries:
        for ratios in entry["ratios"].values():
            for name, goal in ratios.items():
                if name in GOAL_TEXT:
                    verdict = "met" if goal["met"] else "not met"
                    figures = (GOAL_TEXT[name], entry["dataset"], goal["ratio"], goal["limit"], verdict)
                    goals.append("%s on %s %.2f (goal ≤ %s: %s)" % figures)
    notes = []
    if goals:
        notes.append("Speed goals: %s." % "; ".join(goals))
    peaks = ["%s %s MB" % (entry["dataset"], entry["methods"]["ours_job"]["peak_rss_mb_max"])
             for entry in entries if entry["methods"].get("ours_job")]
    if peaks:
        notes.append("The controller's processes peaked (ours, Job) at %s (goal < 200 MB)." % ", ".join(peaks))
    for link, methods in sorted((result.get("growth") or {}).items()):
        for method, points in methods.items():
            if method == "ours_job" and link in ("-", "loopback"):
                notes.append("Growth (ours, Job): %s." % ", ".join(
                    "%s MiB in %s (%.1f s per GiB, %s MB peak)" % (p["size_mib"], seconds(p["median_s"]), p["s_per_gib"], p["peak_rss_mb"])
                    for p in points))
    ratios = [row["shaped_over_loopback"] for methods in (result.get("links") or {}).values() for row in methods.values()
              if row.get("shaped_over_loopback")]
    if ratios:
        notes.append("On the shaped link (1 Gbit/s, +0.5 ms) every method took %.2f\N{EN DASH}%.2f of its loopback time."
                     % (min(ratios), max(ratios)))
    notes += relay_notes(result, entries)
    return "\n".join([*lines, wrapped(" ".join(notes))])


def relay_notes(result, entries):
    """The stream transport's ceiling beside the rate of its data phase on the largest dataset."""
    relay = result.get("relay") or {}
    if not relay:
        return []
    note = ("The stream transport's path alone (zeros from the legacy host through ssh, the controller and `kubectl exec`) "
            "carried %s MiB/s with one stream and %s MiB/s with two" % (relay.get("one_stream_mib_s"), relay.get("two_streams_mib_s")))
    for entry in entries:
        data_s = (((entry["methods"].get("ours_stream") or {}).get("phases_median_s")) or {}).get("data")
        if data_s and entry.get("size_bytes"):
            note += "; ours, stream, copied %s at %.0f MiB/s" % (entry["dataset"], entry["size_bytes"] / 2**20 / data_s)
            break
    return [note + "."]


def cutover_block(rounds, name):
    def spread(key):
        values = [figures[key] for figures in rounds]
        return statistics.median(values), max(values)

    stamp = re.search(r"cutover-(\d{4})(\d\d)(\d\d)", name)
    lost = sum(len(r["lost_at_cutover"]) + len(r["lost_at_rollback"]) for r in rounds)
    acknowledged = [r["acknowledged"] for r in rounds]
    cut = [r["cutover_seconds"] for r in rounds]
    back = [r["rollback_seconds"] for r in rounds]
    text = ("Cutover, from `bench/cutover/run.py` on %s (%d rounds, online mode, a probe writing every 10 ms through the "
            "Service clients use by name): the longest pause in acknowledged writes was %.2f s at p50 and %.2f s at most around "
            "the cutover, %.2f s and %.2f s around the rollback; %d\N{EN DASH}%d writes acknowledged per round, %d of them lost. "
            "The cutover playbook took %.1f\N{EN DASH}%.1f s, the rollback %.1f\N{EN DASH}%.1f s.")
    figures = ("-".join(stamp.groups()) if stamp else name, len(rounds), *spread("cutover_unavailable"), *spread("rollback_unavailable"),
               min(acknowledged), max(acknowledged), lost, min(cut), max(cut), min(back), max(back))
    return wrapped(text % figures)


def failover_block(result, name):
    stamp = re.search(r"failover-(\d{4})(\d\d)(\d\d)", name)
    gaps = result["gaps"]
    text = ("Failover of a `ha: patroni` cluster of three, from `bench/failover/run.py` on %s (the leader pod deleted %d "
            "times under a writer committing one row per connection through the client Service): writes went "
            "unacknowledged for %.2f s at p50 and %.2f s at most; %d writes acknowledged, %d of them lost."
            % ("-".join(stamp.groups()) if stamp else name, len(gaps), statistics.median(gaps), max(gaps),
               result["acknowledged"], result["lost"]))
    return wrapped(text)


def readiness_block(readiness, rerun):
    latency = readiness["readiness_latency"]
    text = ("Readiness, from `bench/readiness.py` (%d rounds): `statefulset_ready` returns %.2f s (median) after a "
            "StatefulSet becomes ready, `kubernetes.core.k8s` with `wait: true` %.2f s (its poll interval)."
            % (len(latency["statefulset_ready"]["rounds"]), latency["statefulset_ready"]["median_s"],
               latency["kubernetes.core.k8s wait"]["median_s"]))
    if rerun:
        text += (" A re-run of the `databases` phase for %d workloads takes %.1f s and changes %s (the first run %.1f s)."
                 % (rerun["workloads"], rerun["rerun_s"], "nothing" if rerun["rerun_changed"] == 0 else
                    "%d task(s)" % rerun["rerun_changed"], rerun["first_run_s"]))
    return wrapped(text)


def replace_block(text, name, body):
    pattern = re.compile(r"(<!-- bench:%s -->\n)(?:.*?\n)?(<!-- /bench:%s -->)" % (name, name), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit("README.md has no <!-- bench:%s --> block" % name)
    return pattern.sub(lambda match: match.group(1) + body + "\n" + match.group(2), text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--migration", type=Path, default=newest("migration-*.json"))
    parser.add_argument("--cutover", type=Path, default=newest("cutover-*.json"))
    parser.add_argument("--failover", type=Path, default=newest("failover-*.json"))
    args = parser.parse_args(argv)
    text = README.read_text()
    if args.migration:
        text = replace_block(text, "migration", migration_block(json.loads(args.migration.read_text())))
        print("README: migration figures from %s" % args.migration)
    else:
        print("README: no bench/results/migration-*.json, migration figures left as they are")
    if args.cutover:
        text = replace_block(text, "cutover", cutover_block(json.loads(args.cutover.read_text()), args.cutover.name))
        print("README: cutover figures from %s" % args.cutover)
    else:
        print("README: no bench/results/cutover-*.json, cutover figures left as they are")
    if args.failover:
        text = replace_block(text, "failover", failover_block(json.loads(args.failover.read_text()), args.failover.name))
        print("README: failover figures from %s" % args.failover)
    else:
        print("README: no bench/results/failover-*.json, failover figures left as they are")
    readiness, rerun = RESULTS / "readiness.txt", RESULTS / "databases_rerun.txt"
    if readiness.exists():
        last_rerun = rerun.read_text().strip().splitlines()[-1] if rerun.exists() else ""
        text = replace_block(text, "readiness", readiness_block(json.loads(readiness.read_text()),
                                                                json.loads(last_rerun) if last_rerun.startswith("{") else None))
        print("README: readiness figures from %s" % readiness)
    README.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
