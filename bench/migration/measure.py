"""Timing, memory sampling and the results table of the migration benchmark (bench/migration/run.sh).

  measure.py run --out REC.json [--steps FILE] [--engine FILE] [--meta K=V ...] -- COMMAND...
      Run COMMAND, time it, and every 100 ms sum the RSS of every process below this one (COMMAND and
      all its descendants; this process is a child subreaper, so daemonised helpers such as an SSH
      ControlMaster are still counted). Writes REC.json; exits with COMMAND's code.
  measure.py annotate REC.json K=V ...
      Add fields to a record (values are parsed as JSON when they can be).
  measure.py summarize --records DIR --meta-file FILE --json OUT.json --text OUT.txt
      Medians per dataset and method, ratios against the baselines, the table (also on stdout). Records
      with a link (loopback, shaped: tests/lab/link.sh) are grouped per dataset and link, and a last
      table sets each method's median on one link against the other.
  measure.py regoal RESULTS.json ...
      Recompute the goals of results files from the medians they hold (after GOALS changed).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
PR_SET_CHILD_SUBREAPER = 36
INTERVAL = 0.1
FOREIGN_JOBS = {"pytest", "ansible-test", "ansible-playbook", "molecule", "pgbench"}
BASELINES = ("runbook", "pg_dump_fd", "pgcopydb", "best_tools")
OURS = ("ours_job", "ours_lean", "ours_stream", "ours_resume", "before_job", "before_stream")
METHOD_LABELS = {
    "runbook": "runbook (pg_dump > file, scp, kubectl cp, psql -f)",
    "pg_dump_fd": "pg_dump -Fd -j2 + pg_restore -j2 (controller)",
    "pgcopydb": "pgcopydb clone --table-jobs 2 --index-jobs 2",
    "best_tools": "pg_dump -Fc backup + pgcopydb clone + compare data",
    "ours_job": "ours, transport job (in-cluster)",
    "ours_lean": "ours, job, backup off, verify count",
    "ours_stream": "ours, transport stream (via controller)",
    "ours_resume": "ours, job, parts of 128 MiB: the re-run after a copy interrupted at half its bytes",
    "before_job": "ours at BENCH_MIGRATION_BEFORE, transport job",
    "before_stream": "ours at BENCH_MIGRATION_BEFORE, transport stream",
}
MEMORY_TARGET_MB = 200
# the goals of the speed issue: (ours, baseline, the largest ratio of their medians that meets it)
GOALS = {"ours_job_over_runbook": ("ours_job", "runbook", 1.0),
         "ours_job_over_best_tools": ("ours_job", "best_tools", 0.8),
         "ours_lean_over_pgcopydb": ("ours_lean", "pgcopydb", 1.1),
         "ours_resume_over_ours_job": ("ours_resume", "ours_job", 0.6)}


# -- run -------------------------------------------------------------------------------------------------

def process_table():
    """{pid: (ppid, rss_bytes, comm, state)} for every process, from /proc/<pid>/stat."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        close = stat.rindex(b")")
        comm = stat[stat.index(b"(") + 1:close].decode("utf-8", "replace")
        fields = stat[close + 2:].split()
        # fields[0] is field 3 (state): ppid is field 4, rss (pages) field 24
        table[int(entry)] = (int(fields[1]), int(fields[21]) * PAGE, comm, fields[0].decode())
    return table


def foreign_jobs(mine):
    """Other test or deployment jobs running on this machine now (they skew the timings)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                words = handle.read().split(b"\0")
        except OSError:
            continue
        for word in words[:4]:
            name = os.path.basename(word.decode("utf-8", "replace"))
            if name in FOREIGN_JOBS:
                found.add(name)
    return found


def descendants(table, root):
    children = collections.defaultdict(list)
    for pid, (ppid, *_rest) in table.items():
        children[ppid].append(pid)
    found, todo = [], list(children[root])
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children[pid])
    return found


def read_steps(path):
    steps = {}
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                name, _sep, value = line.strip().rpartition(" ")
                if name:
                    steps[name] = round(float(value), 2)
    return steps


def parse_pairs(pairs):
    fields = {}
    for pair in pairs:
        key, _sep, value = pair.partition("=")
        try:
            fields[key] = json.loads(value)
        except ValueError:
            fields[key] = value
    return fields


def watch(command):
    """Run command; sample the RSS of every process below this one every INTERVAL. Returns the measurements."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    me = os.getpid()
    stats = {"peak_rss_bytes": 0, "peak_at_s": 0.0, "peak_breakdown_mb": {}, "samples": 0, "max_processes": 0}
    foreign = set()
    stats["started"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load_start = os.getloadavg()[0]
    started = time.monotonic()
    child = subprocess.Popen(command)
    while True:
        table = process_table()
        pids = descendants(table, me)
        rss = sum(table[pid][1] for pid in pids)
        if stats["samples"] % 10 == 0:
            foreign |= foreign_jobs(set(pids) | {me})
        stats["samples"] += 1
        stats["max_processes"] = max(stats["max_processes"], len(pids))
        if rss > stats["peak_rss_bytes"]:
            breakdown, count = collections.Counter(), collections.Counter()
            for pid in pids:
                breakdown[table[pid][2]] += table[pid][1]
                count[table[pid][2]] += 1
            stats.update(peak_rss_bytes=rss, peak_at_s=round(time.monotonic() - started, 1),
                         peak_breakdown_mb={"%s x%d" % (name, count[name]): round(value / 2**20, 1)
                                            for name, value in breakdown.most_common()})
        try:
            stats["rc"] = child.wait(timeout=INTERVAL)
            break
        except subprocess.TimeoutExpired:
            continue
    stats["wall_s"] = round(time.monotonic() - started, 2)
    table = process_table()
    stats["leftover_processes"] = sorted(table[pid][2] for pid in descendants(table, me) if table[pid][3] != "Z")
    while True:  # reap what was re-parented to us
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break
    stats.update(peak_rss_mb=round(stats["peak_rss_bytes"] / 2**20, 1), concurrent_jobs=sorted(foreign),
                 loadavg_1m=[round(load_start, 2), round(os.getloadavg()[0], 2)])
    return stats


def command_run(argv):
    if "--" not in argv:
        sys.exit("measure.py run: give the command after --")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="measure.py run")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps")
    parser.add_argument("--engine")
    parser.add_argument("--meta", nargs="*", default=[])
    args, command = parser.parse_args(argv[:split]), argv[split + 1:]
    record = dict(parse_pairs(args.meta), command=command[0])
    record.update(watch(command))
    record["steps"] = read_steps(args.steps)
    if args.engine and os.path.exists(args.engine):
        with open(args.engine, encoding="utf-8") as handle:
            record["engine"] = json.load(handle)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
    return record["rc"]


def command_annotate(argv):
    path, pairs = argv[0], argv[1:]
    with open(path, encoding="utf-8") as handle:
        record = json.load(handle)
    record.update(parse_pairs(pairs))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
    return 0


# -- summarize -------------------------------------------------------------------------------------------

def read_meta(path):
    """key=value lines; dotted keys nest."""
    meta = {}
    if not path or not os.path.exists(path):
        return meta
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or "=" not in line:
                continue
            key, value = line.split("=", 1)
            node = meta
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            try:
                node[parts[-1]] = json.loads(value)
            except ValueError:
                node[parts[-1]] = value
    return meta


def median(values):
    return round(statistics.median(values), 2) if values else None


def ratio(numerator, denominator):
    return round(numerator / denominator, 2) if numerator and denominator else None


def tool_versions():
    def version(argv, prefix):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        lines = [line.strip() for line in (out.stdout + out.stderr).splitlines() if line.startswith(prefix)]
        return lines[0] if lines else None

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=False).stdout.strip())
    return {"pg_dump": version(["pg_dump", "--version"], "pg_dump"), "pgcopydb": version(["pgcopydb", "--version"], "pgcopydb version"),
            "git": head + ("+uncommitted" if dirty else ""), "cpus": os.cpu_count(),
            "memory_mb": os.sysconf("SC_PHYS_PAGES") * PAGE // 2**20, "kernel": platform.release()}


def summarize_method(runs, method):
    # a re-run whose first run was not interrupted (its copy was done before the interruption's turn came) resumed
    # nothing: it is neither a measurement nor a failure
    counted = [r for r in runs if r.get("resumed") is not False]
    not_resumed, runs = len(runs) - len(counted), counted
    good = [r for r in runs if r.get("rc") == 0 and r.get("fingerprint_match", True) is not False]
    entry = {"label": METHOD_LABELS.get(method, method), "runs": len(runs), "ok_runs": len(good),
             "wall_s": [r["wall_s"] for r in good], "median_s": median([r["wall_s"] for r in good]),
             "peak_rss_mb_max": max((r["peak_rss_mb"] for r in runs), default=None),
             "peak_rss_mb_median": median([r["peak_rss_mb"] for r in runs])}
    if not_resumed:
        entry["not_resumed_runs"] = not_resumed
    failures = [r for r in runs if r not in good]
    if failures:
        entry["failures"] = [{"round": r.get("round"), "rc": r.get("rc"), "fingerprint_match": r.get("fingerprint_match"),
                              "error": (r.get("engine") or {}).get("error") or r.get("error_tail")} for r in failures]
    steps = collections.defaultdict(list)
    for run in good:
        for name, value in run.get("steps", {}).items():
            steps[name].append(value)
    if steps:
        entry["steps_median_s"] = {name: median(values) for name, values in steps.items()}
    errors = [r["sql_errors"] for r in runs if "sql_errors" in r]
    if errors:
        entry["sql_errors"] = errors
    if method in OURS:
        engines = [r["engine"] for r in good if r.get("engine")]
        entry["copy_s"] = [e["copy_s"] for e in engines]
        entry["copy_median_s"] = median(entry["copy_s"])
        entry["engine_duration_median_s"] = median([e["engine_duration_s"] for e in engines if e.get("engine_duration_s")])
        phases = collections.defaultdict(list)
        for engine in engines:
            for name, value in engine.get("timings", {}).items():
                phases[name].append(value)
        entry["phases_median_s"] = {name: median(values) for name, values in phases.items()}
        entry["transport"] = sorted({e.get("transport") for e in engines if e.get("transport")})
        entry["peak_breakdown_mb"] = max(runs, key=lambda r: r["peak_rss_mb"]).get("peak_breakdown_mb") if runs else None
    return entry


def goal_ratios(methods):
    """The best baseline and, per method of ours, its ratios to it and to the goals' baselines (another method of ours
    for some goals)."""
    medians = {m: info["median_s"] for m, info in methods.items() if info.get("median_s")}
    baseline_times = {m: t for m, t in medians.items() if m in BASELINES}
    best = min(baseline_times.items(), key=lambda item: item[1]) if baseline_times else (None, None)
    ratios = {}
    for method in OURS:
        ours = methods.get(method)
        if not ours or not ours["median_s"]:
            continue
        ratios[method] = {"ours_copy_over_best_baseline": ratio(ours["copy_median_s"], best[1]),
                          "ours_total_over_best_baseline": ratio(ours["median_s"], best[1])}
        for name, (mine, baseline, limit) in GOALS.items():
            if mine == method and medians.get(baseline):
                value = ratio(ours["median_s"], medians[baseline])
                ratios[method][name] = {"ratio": value, "limit": limit, "met": value <= limit}
    return {"best_baseline": {"method": best[0], "median_s": best[1]}, "ratios": ratios}


def regoal(argv):
    """Recompute the goals of a results file in place (after GOALS changed), from the medians it holds."""
    for path in argv:
        with open(path, encoding="utf-8") as handle:
            result = json.load(handle)
        for entry in result["datasets"].values():
            entry.update(goal_ratios(entry["methods"]))
        result["goals"].update({name: "%s / %s <= %s" % goal for name, goal in GOALS.items()})
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)
    return 0


def summarize(argv):
    parser = argparse.ArgumentParser(prog="measure.py summarize")
    parser.add_argument("--records", required=True)
    parser.add_argument("--meta-file")
    parser.add_argument("--json", required=True)
    parser.add_argument("--text", required=True)
    args = parser.parse_args(argv)
    records = []
    for path in sorted(glob.glob(os.path.join(args.records, "*.json"))):
        with open(path, encoding="utf-8") as handle:
            records.append(json.load(handle))
    meta = read_meta(args.meta_file)
    grouped = collections.defaultdict(lambda: collections.defaultdict(list))
    for record in records:
        grouped[group_name(record)][record["method"]].append(record)
    datasets = {}
    for dataset, methods in grouped.items():
        entry = {"methods": {m: summarize_method(methods[m], m) for m in BASELINES + OURS if m in methods}}
        first = next(iter(methods.values()))[0]
        entry.update((meta.get("dataset") or {}).get(first["dataset"], {}), dataset=first["dataset"], link=first.get("link"))
        entry.update(goal_ratios(entry["methods"]))
        datasets[dataset] = entry
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "goals": dict({name: "%s / %s <= %s" % goal for name, goal in GOALS.items()},
                      controller_peak_rss_mb="< %d" % MEMORY_TARGET_MB),
        "environment": dict(tool_versions(), **(meta.get("environment") or {})),
        "settings": meta.get("settings") or {},
        "source_unchanged": meta.get("source_unchanged") or {},
        "relay": meta.get("relay") or {},
        "datasets": datasets,
        "links": compare_links(datasets),
        "growth": growth(datasets),
        "runs": records,
    }
    text = render(result)
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
        handle.write("\n")
    with open(args.text, "w", encoding="utf-8") as handle:
        handle.write(text)
    sys.stdout.write(text)
    return 0


def group_name(record):
    return "%s @ %s" % (record["dataset"], record["link"]) if record.get("link") else record["dataset"]


def compare_links(datasets):
    """{dataset: {method: {link: median_s, ..., "shaped_over_loopback": x}}} when both links were measured."""
    table = collections.defaultdict(dict)
    for entry in datasets.values():
        if not entry.get("link"):
            continue
        for method, info in entry["methods"].items():
            row = table[entry["dataset"]].setdefault(method, {"label": info["label"]})
            row[entry["link"]] = info["median_s"]
            for step, seconds in (info.get("steps_median_s") or {}).items():
                row.setdefault("steps", {}).setdefault(step, {})[entry["link"]] = seconds
    for methods in table.values():
        for row in methods.values():
            row["shaped_over_loopback"] = ratio(row.get("shaped"), row.get("loopback"))
    return {dataset: methods for dataset, methods in table.items()
            if any("loopback" in row and "shaped" in row for row in methods.values())}


def growth(datasets):
    """{link: {method: [{dataset, size_mib, median_s, s_per_gib, peak_rss_mb}, ...] by size}} for our methods measured on
    at least two datasets of known size: time must grow no worse than linearly, memory must stay flat."""
    series = collections.defaultdict(lambda: collections.defaultdict(list))
    for entry in datasets.values():
        if not entry.get("size_bytes"):
            continue
        for method in OURS:
            info = entry["methods"].get(method)
            if info and info["median_s"]:
                size_mib = entry["size_bytes"] / 2**20
                series[entry.get("link") or "-"][method].append({
                    "dataset": entry["dataset"], "size_mib": round(size_mib), "median_s": info["median_s"],
                    "s_per_gib": round(info["median_s"] / (size_mib / 1024), 2), "peak_rss_mb": info["peak_rss_mb_max"]})
    return {link: {method: sorted(points, key=lambda point: point["size_mib"]) for method, points in methods.items()
                   if len(points) > 1} for link, methods in series.items()}


def render_growth(table):
    lines = []
    for link, methods in sorted(table.items()):
        for method, points in methods.items():
            if not points:
                continue
            lines.append("== growth of %s (%s link): time no worse than linear, peak RSS flat under %d MB" % (
                METHOD_LABELS.get(method, method), link, MEMORY_TARGET_MB))
            lines.append("%-24s %10s %10s %10s %12s" % ("dataset", "MiB", "median s", "s per GiB", "peak RSS MB"))
            for point in points:
                cells = (point["dataset"], point["size_mib"], point["median_s"], point["s_per_gib"], point["peak_rss_mb"])
                lines.append("%-24s %10s %10s %10s %12s" % cells)
            lines.append("")
    return lines


def render_links(links):
    lines = []
    for dataset, methods in sorted(links.items()):
        lines.append("== %s: loopback against the shaped link (tests/lab/link.sh: 1 Gbit/s, +0.5 ms)" % dataset)
        lines.append("%-52s %11s %11s %8s" % ("method", "loopback s", "shaped s", "ratio"))
        for row in methods.values():
            cells = (row["label"], fmt(row.get("loopback")), fmt(row.get("shaped")), fmt(row["shaped_over_loopback"], "x"))
            lines.append("%-52s %11s %11s %8s" % cells)
            for step, links_s in (row.get("steps") or {}).items():
                lines.append("    %-48s %11s %11s" % (step, fmt(links_s.get("loopback")), fmt(links_s.get("shaped"))))
        lines.append("")
    return lines


def verdict(met):
    return "met" if met else "NOT met"


def fmt(value, suffix=""):
    return "-" if value is None else "%s%s" % (value, suffix)


def render(result):
    lines = ["Migration benchmark %s (%s CPUs, git %s; %s; %s)" % (
        result["date"], result["environment"].get("cpus"), result["environment"].get("git"),
        result["environment"].get("pg_dump"), result["environment"].get("pgcopydb")), ""]
    for dataset, entry in sorted(result["datasets"].items()):
        size = entry.get("size_bytes")
        lines.append("== %s%s" % (dataset, " (%.0f MiB on the source)" % (size / 2**20) if size else ""))
        lines.append("%-52s %4s %9s %9s %10s  %s" % ("method", "ok", "median s", "copy s", "peak RSS", "runs (s)"))
        for info in entry["methods"].values():
            lines.append("%-52s %4s %9s %9s %10s  %s" % (
                info["label"], "%d/%d" % (info["ok_runs"], info["runs"]), fmt(info["median_s"]), fmt(info.get("copy_median_s")),
                fmt(info["peak_rss_mb_max"], " MB"), " ".join(str(v) for v in info["wall_s"])))
            for failure in info.get("failures", []):
                lines.append("    FAILED round %s rc=%s fingerprint_match=%s: %s" % (
                    failure["round"], failure["rc"], failure["fingerprint_match"], failure["error"]))
            if info.get("not_resumed_runs"):
                lines.append("    %d run(s) not counted: the copy they were to resume was not interrupted (it was done before "
                             "the interruption's turn came), so there was nothing to resume" % info["not_resumed_runs"])
            if info.get("sql_errors") and any(info["sql_errors"]):
                lines.append("    psql ERROR lines per run: %s" % info["sql_errors"])
        for method, info in entry["methods"].items():
            if info.get("steps_median_s"):
                lines.append("  %s steps (median s): %s" % (method, ", ".join("%s %s" % kv for kv in info["steps_median_s"].items())))
            if info.get("phases_median_s"):
                lines.append("  %s phases (median s): %s" % (method, ", ".join("%s %s" % kv for kv in info["phases_median_s"].items())))
        best = entry["best_baseline"]
        lines.append("  best baseline: %s %s s" % (best["method"], best["median_s"]))
        for method, r in entry["ratios"].items():
            goals = ["%s/%s %sx (goal <= %s: %s)" % (*GOALS[name][:2], fmt(goal["ratio"]), goal["limit"], verdict(goal["met"]))
                     for name, goal in r.items() if name in GOALS]
            lines.append("  %-12s copy/best %sx, total/best %sx%s" % (
                method, fmt(r["ours_copy_over_best_baseline"]), fmt(r["ours_total_over_best_baseline"]),
                "".join("; " + goal for goal in goals)))
        lines.append("")
    lines += render_links(result.get("links") or {})
    lines += render_growth(result.get("growth") or {})
    lines.append("controller peak RSS of our engine (python + ssh/kubectl/docker/psql descendants), target < %d MB:" % MEMORY_TARGET_MB)
    for dataset, entry in sorted(result["datasets"].items()):
        for method in OURS:
            info = entry["methods"].get(method)
            if info:
                breakdown = ", ".join("%s %s" % kv for kv in (info.get("peak_breakdown_mb") or {}).items())
                lines.append("  %-14s %-12s %s MB max (%s)" % (dataset, method, fmt(info["peak_rss_mb_max"]), breakdown))
    disturbed = ["%s/%s/%s (%s)" % (r["dataset"], r["method"], r["round"], ", ".join(r["concurrent_jobs"]))
                 for r in result["runs"] if r.get("concurrent_jobs")]
    lines.append("runs with other jobs on the machine (skewed): %s" % ("; ".join(disturbed) if disturbed else "none"))
    loads = [value for run in result["runs"] for value in run.get("loadavg_1m", [])]
    if loads:
        lines.append("load average (1 min) at the start/end of the runs: %.2f .. %.2f (%d CPUs)" % (
            min(loads), max(loads), result["environment"].get("cpus") or 0))
    lines.append("source unchanged: %s" % json.dumps(result["source_unchanged"], sort_keys=True))
    lines += render_relay(result)
    return "\n".join(lines) + "\n"


def render_relay(result):
    """The stream transport's ceiling and the rate of its data phase beside it."""
    relay = result.get("relay") or {}
    if not relay:
        return []
    lines = ["stream transport ceiling (zeros: ssh | controller | kubectl exec): %s MiB/s with one stream, %s MiB/s with two"
             % (relay.get("one_stream_mib_s"), relay.get("two_streams_mib_s"))]
    for dataset, entry in sorted(result["datasets"].items()):
        info, size = entry["methods"].get("ours_stream"), entry.get("size_bytes")
        data_s = ((info or {}).get("phases_median_s") or {}).get("data")
        if data_s and size:
            lines.append("  %s: ours_stream's data phase %.1f MiB/s (%s MiB on the source in %s s)" % (
                dataset, size / 2**20 / data_s, round(size / 2**20), data_s))
    return lines


def main(argv):
    if not argv:
        sys.exit(__doc__)
    command, rest = argv[0], argv[1:]
    if command == "run":
        return command_run(rest)
    if command == "annotate":
        return command_annotate(rest)
    if command == "summarize":
        return summarize(rest)
    if command == "regoal":
        return regoal(rest)
    sys.exit("unknown command %s" % command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
