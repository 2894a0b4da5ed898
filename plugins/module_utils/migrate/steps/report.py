# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 9: the task's result and the report files (<workload>-<database>.json and .md, no secret in either)."""

from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import human_bytes, human_seconds
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.safe_names import safe_name
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import utc_now
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import resume


def write_files(report, directory, stem, markdown):
    """Write <stem>.json and <stem>.md (0644, each replaced at once) and return their paths; nothing without a directory."""
    if not directory:
        return []
    os.makedirs(directory, exist_ok=True)
    paths = []
    for suffix, text in ((".json", json.dumps(report, indent=2, sort_keys=True) + "\n"), (".md", markdown(report, stem))):
        path = os.path.join(directory, stem + suffix)
        with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
        paths.append(path)
    return paths


def summary(plan):
    return {"tables": len(plan.tables), "data_bytes": plan.data_bytes, "source_version": plan.source_version,
            "target_version_num": plan.target_version}


def plan_only(run, engine, plan):
    """Check mode: what a run would copy, and the target database before and after, as a diff."""
    ctx, size = run.ctx, human_bytes(plan.data_bytes)
    before = json.dumps(plan.target_content, sort_keys=True) if plan.target_exists else "absent"
    return {"changed": True, "plan": summary(plan), "marker": plan.marker,
            "msg": "%s: would copy %d %s (%s) into %s%s" % (ctx.label, len(plan.tables), engine.unit, size, engine.target.label,
                                                            resuming(plan)),
            "diff": {"before": "%s: %s\n" % (ctx.database, before),
                     "after": "%s: %d %s, %s from the source\n" % (ctx.database, len(plan.tables), engine.unit, size)}}


def resuming(plan):
    return ", resuming an interrupted copy (%d of %d parts are in)" % resume.counts(plan.resume) if plan.resume else ""


def result(run, engine, plan, report, marker, backup=None, transport=None, already=False):
    """The task's result for a copy (changed) or a re-verification of a finished copy (already, not changed)."""
    ctx, figures = run.ctx, summary(plan)
    report.update(workload=ctx.workload, database=ctx.database, started=run.started_at, finished=utc_now(),
                  duration_seconds=run.duration(), source=engine.source.label, target=engine.target.label,
                  transport=transport or marker.get("transport"), backup=backup or marker.get("backup"),
                  timings=run.timings, notes=run.notes + engine.notes, roles=run.roles, verified=verified(report))
    files = write_files(report, ctx.options.report_dir, "%s-%s" % (ctx.workload, safe_name(ctx.database)),
                        _titled(engine, "Migration of %s"))
    if already:
        state = ALREADY.get(marker.get("state"), "migrated")
        msg = "%s: already %s (%s); re-verified: %s" % (ctx.label, state, marker.get("updated"), outcome(report))
    else:
        rate = figures["data_bytes"] / run.timings["data"] if run.timings.get("data") else None
        msg = "%s: copied %d %s (%s) in %s%s via %s; verification %s" % (
            ctx.label, figures["tables"], engine.unit, human_bytes(figures["data_bytes"]), human_seconds(report["duration_seconds"]),
            " (%s/s)" % human_bytes(rate) if rate else "", transport, outcome(report, "passed", "FAILED"))
    if not report["ok"]:
        msg += ": " + "; ".join(report["mismatches"][:5])
        if already:
            msg += (". The target is not copied again without force: check the report, then re-run with -e stateshift_force=true "
                    "to replace it")
    return {"changed": not already, "failed": not report["ok"], "msg": msg, "report": report, "report_files": files,
            "backup": report["backup"], "transport": report["transport"], "summary": figures}


ALREADY = {"verified": "migrated", "verify_failed": "copied but failed verification", "copied_unverified": "copied"}


def verified(report):
    return bool(report["ok"]) and report.get("level") != "none"


def outcome(report, passed="ok", failed="MISMATCH"):
    if report.get("level") == "none":
        return "not verified (migration.verify: none)"
    return passed if report["ok"] else failed


def comparison(ctx, engine, report):
    """pg_compare's result: the report of both sides as they are now."""
    report.update(workload=ctx.workload, database=ctx.database, source=engine.source.label, target=engine.target.label)
    files = write_files(report, ctx.options.report_dir, "%s-%s-compare" % (ctx.workload, safe_name(ctx.database)),
                        _titled(engine, "Migration of %s"))
    if report["ok"]:
        msg = "%s: %d tables, %s rows: source and target match (%s)" % (
            ctx.label, report["totals"]["tables"], report["totals"]["rows_source"], report["level"])
    else:
        msg = "%s: %d mismatch(es): %s" % (ctx.label, len(report["mismatches"]), "; ".join(report["mismatches"][:5]))
    return {"changed": False, "failed": not report["ok"], "msg": msg, "report": report, "report_files": files}


def _titled(engine, title):
    return lambda report, stem: engine.markdown(report, title % stem)
