"""Run the migration runbook (plugins/module_utils/migrate/run.py) once, as the pg_migrate action would,
and write its outcome as JSON: total and per-phase timings, transport, backup, verification, or the error.

Called by bench/migration/run.sh under measure.py (which times it and samples its memory); needs
PYTHONPATH to hold the collections directory (scripts/env.sh's STATESHIFT_COLLECTIONS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import types

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import run as runbook
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.postgresql import PostgresEngine
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sources import DockerOverSsh, SshTarget
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.state import RunState

# The copy proper, comparable with pg_dump/pg_restore or pgcopydb. The other phases are preflight,
# transport (Job start), backup and verify: the engine's extra safety work.
COPY_PHASES = ("globals", "database", "schema", "data", "sequences", "indexes, constraints, analyze")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--transport", choices=("job", "stream", "auto"), required=True)
    parser.add_argument("--out", required=True, help="where to write the outcome (JSON)")
    parser.add_argument("--log", required=True, help="the engine's progress lines")
    parser.add_argument("--report-dir", required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--verify", default="checksum")
    parser.add_argument("--workload", default="invoicetron")
    parser.add_argument("--namespace", default="invoicetron")
    parser.add_argument("--target-user", default="invoicetron")
    parser.add_argument("--target-secret", default="invoicetron-secrets")
    parser.add_argument("--target-password-key", default="postgres-password")
    parser.add_argument("--target-image", default="postgres:15-alpine")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--container", default="invoicetron-db")
    parser.add_argument("--source-user", default="invoicetron")
    parser.add_argument("--ssh-host", default="127.0.0.1")
    parser.add_argument("--ssh-port", type=int, default=2222)
    parser.add_argument("--ssh-user", default="root")
    parser.add_argument("--ssh-key", required=True)
    parser.add_argument("--ssh-args", default="", help="extra ssh options (ansible_ssh_common_args)")
    parser.add_argument("--backup-dir", default="/var/backups/stateshift")
    parser.add_argument("--no-backup", action="store_true", help="migration.backup: false")
    parser.add_argument("--table-part-mib", type=int, help="migration.table_part_mib (default: the catalog's)")
    parser.add_argument("--interrupt-at", type=float, help="fail the copy before it starts a part once parts of this "
                        "share of the bytes were started: the setup of a resume measurement")
    return parser.parse_args(argv)


def migration_context(args):
    """The context pg_migrate would build: the workload through the catalog's validation, the module's defaults."""
    workload = {"name": args.workload, "namespace": args.namespace, "engine": "postgresql", "image": args.target_image,
                "storage": {"size": "1Gi"}, "auth": {"user": args.target_user, "secret": args.target_secret,
                                                     "password_key": args.target_password_key},
                "source": {"host": "legacy-vm", "container": args.container, "database": args.database, "user": args.source_user},
                "migration": dict({"jobs": args.jobs, "verify": args.verify, "transport": args.transport, "backup_dir": args.backup_dir,
                                   "backup": not args.no_backup},
                                  **({"table_part_mib": args.table_part_mib} if args.table_part_mib is not None else {}))}
    options = context.RunOptions(check_mode=False, force=False, report_dir=args.report_dir, progress_interval=5.0, timeout=86400,
                                 restore_settings=None, kubectl_bin="kubectl",
                                 connection=types.MappingProxyType({"kubeconfig": args.kubeconfig} if args.kubeconfig else {}))
    return context.build(validate_catalog([workload]), args.workload, options)


def interrupt_at(engine, share):
    """engine.copy_table and copy_tables_together refuse to start a part (or a batch of small tables) once parts of
    ``share`` of the planned bytes were started."""
    planned, started = [], {"bytes": 0}
    plan_parts, copy_table, copy_together = engine.plan_parts, engine.copy_table, engine.copy_tables_together

    def planning(plan):
        planned[:] = plan_parts(plan)
        return planned

    def starting(parts):
        # counted when a part starts: the parts in flight at the interruption still commit (in the Job's pod they would
        # after a real kill too), so about ``share`` of the bytes are in when the re-run starts
        if started["bytes"] >= share * sum(p["size_bytes"] for p in planned):
            raise MigrationError("interrupted by the benchmark at %d%% of the bytes" % (100 * share), "copy")
        started["bytes"] += sum(part["size_bytes"] for part in parts)

    def copy_until(transport, part, snapshot):
        starting([part])
        copy_table(transport, part, snapshot)

    def copy_together_until(transport, parts, snapshot):
        starting(parts)
        copy_together(transport, parts, snapshot)

    engine.plan_parts, engine.copy_table, engine.copy_tables_together = planning, copy_until, copy_together_until


def main(argv):
    args = parse_args(argv)
    control_dir = tempfile.mkdtemp(prefix="bench-ssh-")
    ssh = SshTarget(args.ssh_host, args.ssh_port, args.ssh_user, args.ssh_key, args.ssh_args, control_dir=control_dir, name="legacy-vm")
    ctx = migration_context(args)
    outcome = {"database": args.database, "transport_asked": args.transport, "jobs": args.jobs, "verify": args.verify}
    started = time.monotonic()
    rc = 0
    with open(args.log, "a", encoding="utf-8") as log:
        def emit(line):
            log.write("%.2f %s\n" % (time.monotonic() - started, line))
            log.flush()

        run = RunState(ctx, emit)
        source = DockerOverSsh(ssh, args.container, args.source_user)
        try:
            with Kubectl(ctx.namespace, dict(ctx.options.connection), ctx.options.kubectl_bin) as cluster:
                engine = PostgresEngine(ctx, source, cluster)
                if args.interrupt_at:
                    interrupt_at(engine, args.interrupt_at)
                try:
                    result = runbook.migrate(engine, run=run)
                finally:
                    engine.close()
            report = result["report"]
            outcome.update(ok=not result["failed"], msg=result["msg"], transport=result["transport"],
                           backup=result["backup"], verified=report["ok"], mismatches=report["mismatches"],
                           engine_duration_s=report["duration_seconds"], summary=result["summary"])
            if result["failed"]:
                rc = 1
        except MigrationError as exc:
            outcome.update(ok=False, error=str(exc), error_phase=exc.phase)
            rc = 1
        except Exception as exc:  # a benchmark records every failure and goes on
            outcome.update(ok=False, error="%s: %s" % (type(exc).__name__, exc), error_phase="unexpected",
                           traceback=traceback.format_exc())
            rc = 2
        finally:
            outcome["timings"] = dict(run.timings)
            outcome["copy_s"] = round(sum(run.timings.get(p, 0.0) for p in COPY_PHASES), 2)
            outcome["wall_in_process_s"] = round(time.monotonic() - started, 2)
            # The SSH master (ControlPersist) would outlive us for 60 s: end it, so the measured process tree ends too.
            base = ssh.argv()
            subprocess.run([*base[:-1], "-O", "exit", base[-1]], capture_output=True, check=False)
            shutil.rmtree(control_dir, ignore_errors=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(outcome, handle, indent=1)
    if rc:
        sys.stderr.write("engine: %s\n" % (outcome.get("error") or outcome.get("msg")))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
