# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several databases of one source in one task (``source.databases``): each in turn over the same source side and
cluster, the roles copied once; the first failure stops the others, and a re-run finishes them (a verified database is
only verified again). One result: every database's own under ``databases``, their messages joined."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError

MAINTENANCE = "postgres"


def names(engine, asked):
    """The databases one task works on: ``asked`` (the module's database option), else the workload's source.databases
    (all: every database of the source but the templates and postgres), else its source.database."""
    ctx = engine.ctx
    wanted = ctx.source.databases
    if asked:
        return [asked]
    if not wanted:
        return [ctx.database]
    if wanted != "all":
        return list(wanted)
    found = [name for name in engine.source_database_names() if name != MAINTENANCE]
    if not found:
        raise MigrationError(ctx.field_problem("source.databases", "all", "the source has no database but %s" % MAINTENANCE,
                                               "list the databases to move, or migrate %s with source.database" % MAINTENANCE),
                             "preflight")
    return found


def each(engine, databases, work, failure):
    """work(engine of one database) for each of ``databases`` until one fails; failure(exc) is the result of one that
    raised. A single database's result is returned as it is."""
    if databases == [engine.ctx.database]:
        return work(engine)
    results = {}
    for name in databases:
        try:
            results[name] = work(engine.for_database(name))
        except Exception as exc:  # reported as that database's failed result, like a single database's
            results[name] = failure(exc)
        if results[name].get("failed"):
            break
    return combined(results, databases)


def combined(results, databases):
    left = [name for name in databases if name not in results]
    msg = "; ".join(result["msg"] for result in results.values()) + ("; not started: %s" % ", ".join(left) if left else "")
    outcome = {"changed": any(result.get("changed") for result in results.values()),
               "failed": any(result.get("failed") for result in results.values()),
               "msg": msg, "databases": results}
    if any("source_changed" in result for result in results.values()):
        outcome["source_changed"] = any(result.get("source_changed") for result in results.values())
    return outcome
