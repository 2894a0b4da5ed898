# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resuming an interrupted copy: the parts an earlier run committed stay, the others are copied.

A run resumes when the marker says ``copying``, force is not set, the target holds the earlier run's record of parts
(it is dropped once every part is in, before the indexes: an interruption after that starts again from the beginning),
the source's tables and columns are those the record was made for, and ``migration.verify`` is ``checksum``: the kept
rows were read from an earlier snapshot, so only a checksum comparison with this run's snapshot can tell whether the
source changed since. Tables the comparison finds different, of those the earlier run had copied parts of, are copied
again whole from this run's snapshot and compared once more (a table's ``report_name``, when the engine gives one, is
its name in the comparison's report; else its key).
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import marker, verify

CHECKSUM = "checksum"


def point(run, engine, plan):
    """The earlier run's record when this run may resume it, else None (with a line saying why, when one was left)."""
    ctx = run.ctx
    if plan.marker.get("state") != marker.COPYING or ctx.force or not plan.target_exists:
        return None
    record = engine.recorded_parts()
    if not record:
        return None
    why = None
    if ctx.verify != CHECKSUM:
        why = "resuming needs migration.verify: checksum (it is %s)" % ctx.verify
    elif record["digest"] != engine.parts_digest(plan.tables):
        why = "the source's tables or columns changed since"
    if why:
        run.emit("%s: not resuming the interrupted copy, %s: copying every table again" % (ctx.label, why))
        return None
    return record


def parts(run, engine, plan):
    """The parts a resumed run copies; says how many the earlier run left in."""
    left = engine.resumed_parts(plan, plan.resume)
    line = "resumed an interrupted copy: %d of %d parts were in, %d copied" % (*counts(plan.resume), len(left))
    run.emit("%s: %s" % (run.ctx.label, line))
    run.notes.append(line)
    return left


def counts(record):
    """(parts in, parts) of a record."""
    return sum(1 for row in record["parts"] if row["done"]), len(record["parts"])


def kept_tables(plan):
    """Keys of the tables an earlier run copied parts of."""
    if not plan.resume:
        return []
    return sorted({row["table"] for row in plan.resume["parts"] if row["done"]})


def recopy_if_changed(run, engine, transport, plan, snapshot, source_half, checked):
    """After a resumed copy failed its comparison: the kept tables found different copied again whole, then compared again."""
    tables = {table["key"]: table for table in plan.tables}
    different = {row["table"] for row in checked["tables"] if not row["match"]}
    stale = [key for key in kept_tables(plan) if tables[key].get("report_name", key) in different]
    if checked["ok"] or not stale:
        return checked
    run.emit("%s: the comparison found differences after resuming (the source may have changed since the interrupted run): "
             "copying again the %d tables it had copied parts of" % (run.ctx.label, len(stale)))

    def recopy():
        for key in stale:
            engine.recopy_table(transport, tables[key], snapshot)

    run.timed("recopy", recopy)
    return run.timed("verify", verify.compare, engine, run.ctx.verify, snapshot, source_half)
