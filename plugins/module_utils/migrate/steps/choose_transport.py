# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 3': how the data travels, chosen while the backup runs.

``job`` starts the migration Job in the target namespace and keeps the first source address its pod can
log in to; ``stream`` relays through the controller; ``auto`` streams a small database (the Job's pod would take
longer to start than the whole copy saves), else tries ``job`` and falls back to ``stream``.

In two halves, so that the run's other work overlaps the pod's start without a ``kubectl wait`` running beside it:
begin() creates the Job, settle() waits for its pod and probes the source from it.
"""

from __future__ import annotations

import dataclasses

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import worker
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import LONG, run_process
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.transport import JobTransport, StreamTransport

PROBE_TIMEOUT = 120
TARGET_LOGIN_FAILED_RC = 3
# Below this much table data, auto streams: the Job's pod is Ready ~1 s after it is created, and the stream's lower rate costs less.
SMALL_DATA_BYTES = 64 * 2**20


@dataclasses.dataclass
class Choice:
    """begin()'s answer: a transport already decided, or the addresses to probe from a Job whose pod is starting."""

    transport: object = None
    reason: str = ""
    candidates: tuple = ()
    probe: str = ""  # the script the pod runs to find the first address it can log in to (engine.reach_script)


def choose(run, engine, data_bytes=None):
    """Returns (transport, why it was chosen). ``data_bytes``: the tables' size, when an offline copy knows it."""
    return settle(run, engine, begin(run, engine, data_bytes))


def begin(run, engine, data_bytes=None):
    """The quick half of choose(): decides, or creates the Job and returns without waiting for its pod (settle() does)."""
    ctx = run.ctx
    if ctx.transport == "stream":
        return Choice(stream(engine), "set by migration.transport")
    if not engine.job_transport:
        if ctx.transport == "job":
            raise MigrationError(ctx.field_problem(
                "migration.transport", ctx.transport, "a %s copy always streams through the controller" % engine.name,
                "set migration.transport to auto or stream"), "transport")
        return Choice(stream(engine), "a %s copy streams through the controller" % engine.name)
    if ctx.transport == "auto" and data_bytes is not None and data_bytes < SMALL_DATA_BYTES:
        return Choice(stream(engine), "auto: %.1f MiB of tables (under %d MiB) copy through the controller faster than a Job's "
                      "pod starts" % (data_bytes / 2**20, SMALL_DATA_BYTES // 2**20))
    candidates = engine.source.address_candidates()
    password = engine.source.password_for_cluster() if candidates else None
    if not candidates:
        return fallback(engine, ctx, "no address at which the cluster could reach the source (set source.address)")
    if not password:
        return fallback(engine, ctx, "no source password to give the in-cluster Job (set source.password)")
    manifest = worker.manifests(ctx.objects, ctx.image, password, ctx.auth_secret, ctx.auth_password_key, ctx.options.timeout)
    probe = engine.reach_script(candidates)
    run.worker_created = True
    worker.create(engine.cluster, ctx.objects, manifest)
    return Choice(candidates=tuple(candidates), probe=probe)


def settle(run, engine, choice):
    """(transport, reason): begin()'s decision, or the Job's once its pod is Ready and has probed the source's addresses."""
    if choice.transport is not None:
        return choice.transport, choice.reason
    run.worker_pod = worker.ready_pod(engine.cluster, run.ctx.objects["app"])
    found, why = reachable_address(run, engine, choice.probe)
    if found:
        return JobTransport(*engine.job_sides(engine.cluster, run.worker_pod, found), deadline=deadline(run.ctx)), \
            "the cluster reaches the source at %s:%d" % found
    stop_worker(run, engine)
    chosen = fallback(engine, run.ctx, why or "the cluster cannot reach the source at %s"
                      % ", ".join("%s:%s" % c for c in choice.candidates))
    return chosen.transport, chosen.reason


def stream(engine):
    return StreamTransport(engine.source, engine.target, deadline(engine.ctx))


def fallback(engine, ctx, reason):
    """The stream, when the Job cannot be had and auto allows it; a refusal naming the field when job was asked for."""
    if ctx.transport == "job":
        raise MigrationError(ctx.field_problem(
            "migration.transport", ctx.transport, "the job transport was asked for but %s" % reason,
            "set source.address to an address the cluster's pods can reach, or use transport: stream"), "transport")
    return Choice(stream(engine), reason)


def deadline(ctx):
    """Seconds one table's copy may take: the run's timeout option."""
    return ctx.options.timeout or LONG


def reachable_address(run, engine, script):
    """((host, port), None) for the first address the Job's pod can log in to (running ``script``); else (None, why)
    when the pod cannot even log in to the target, (None, None) when no source address answered."""
    completed = run_process(engine.cluster("exec", run.worker_pod, "--", "bash", "-c", script), timeout=PROBE_TIMEOUT,
                            what="the migration pod's probe of the source addresses")
    if completed.returncode == 0:
        host, _sep, port = completed.stdout.decode().strip().rpartition(":")
        return (host, int(port)), None
    if completed.returncode == TARGET_LOGIN_FAILED_RC:
        said = completed.stderr.decode("utf-8", "replace").strip()
        return None, "the migration pod cannot log in to the target%s" % (": " + said[-300:] if said else "")
    return None, None


def stop_worker(run, engine, wait=True):
    """Delete the Job (and its Secret) if this run created one."""
    if run.worker_created:
        worker.remove(engine.cluster, run.ctx.app, wait=wait)
        run.worker_pod, run.worker_created = None, False
