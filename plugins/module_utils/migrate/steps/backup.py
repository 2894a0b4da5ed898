# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 3: the backup, a dump of the snapshot written on the source host next to the source, with its sha256.

It is written as ``<name>.partial`` and renamed only once complete, so a file without that suffix is whole.
"""

from __future__ import annotations

import posixpath
import shlex
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import Ticker, human_bytes, human_seconds
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.safe_names import safe_name
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import LONG, SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import utc_now

DISK_MARGIN = 1.1


def directory(ctx):
    """migration.backup_dir/<workload>."""
    return posixpath.join(ctx.backup_dir, ctx.workload)


def file_name(ctx, suffix, now=None):
    return "%s-%s-%s%s" % (ctx.workload, safe_name(ctx.database), (now or utc_now()).replace(":", ""), suffix)


def check_space(run, source, data_bytes):
    """Preflight: the dump (at most about the data's size) fits where the backup goes. Returns the free bytes."""
    ctx = run.ctx
    script = 'd=%s; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d" | tail -n 1' % shlex.quote(directory(ctx))
    available = int(source.host_output(script).split()[3]) * 1024
    needed = int(data_bytes * DISK_MARGIN)
    if available < needed:
        raise MigrationError(ctx.field_problem(
            "migration.backup_dir", ctx.backup_dir, "not enough disk for the backup in %s on %s: %s free, the dump can take up to %s"
            % (directory(ctx), source.where(), human_bytes(available), human_bytes(needed)),
            "free space there or set migration.backup_dir to a larger filesystem"), "preflight")
    return available


def take(run, engine, snapshot, plan=None):
    """Returns {'path', 'host', 'sha256', 'bytes', 'format'}; a failure stops the run before any write to the target.
    A resumed copy keeps the interrupted run's backup (kept())."""
    ctx, source = run.ctx, engine.source
    earlier = kept(run, engine, plan)
    if earlier:
        return earlier
    final = posixpath.join(directory(ctx), file_name(ctx, engine.backup_suffix))
    script = ("set -eu; umask 077; mkdir -p %(dir)s; tmp=%(final)s.partial; trap 'rm -f \"$tmp\"' EXIT; "
              "%(dump)s > \"$tmp\"; sha256sum \"$tmp\" | cut -d' ' -f1; wc -c < \"$tmp\"; mv \"$tmp\" %(final)s; trap - EXIT"
              % {"dir": shlex.quote(directory(ctx)), "final": shlex.quote(final), "dump": engine.backup_command(snapshot)})
    started = time.monotonic()

    def report_progress():
        written = file_size(source, final + ".partial")
        elapsed = time.monotonic() - started
        figures = (ctx.label, human_bytes(written), human_bytes(written / elapsed), human_seconds(elapsed))
        run.emit("backup %s: %s written, %s/s, %s elapsed" % figures)

    try:
        with Ticker(ctx.options.progress_interval, report_progress):
            digest, size = source.host_output(script, timeout=ctx.options.timeout or LONG).split()[:2]
    except SideError as exc:
        raise MigrationError("%s: the backup failed, nothing was written to the target: %s" % (ctx.label, exc), "backup") from None
    backup = {"path": final, "host": source.where(), "sha256": digest, "bytes": int(size), "format": engine.backup_format}
    run.emit("%s: backup %s (%s, sha256 %s) on %s" % (ctx.label, final, human_bytes(backup["bytes"]), digest[:16], backup["host"]))
    return backup


def kept(run, engine, plan):
    """The interrupted run's backup, when this run resumes its copy and the file is still whole on the source host (its
    recorded size): it holds the source as it was before the migration began, which is what the backup is for."""
    recorded = (plan.marker.get("backup") if plan is not None and plan.resume else None) or {}
    if not recorded.get("path"):
        return None
    if file_size(engine.source, recorded["path"]) != recorded.get("bytes"):
        return None
    run.emit("%s: keeping the interrupted run's backup %s (%s, sha256 %s)" % (run.ctx.label, recorded["path"],
                                                                              human_bytes(recorded["bytes"]), recorded["sha256"][:16]))
    return recorded


def file_size(source, path):
    """Bytes of a file on the source host, 0 when it is not there."""
    return int(source.host_output("stat -c %%s %s 2>/dev/null || echo 0" % shlex.quote(path)).strip() or 0)
