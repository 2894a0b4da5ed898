# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What pg_migrate and pg_compare share: the run's context from the catalog fact plus the secrets of the raw catalog,
and a failure result for anything that goes wrong, so no traceback and no secret reaches the user."""

from __future__ import annotations

import traceback

from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context, credentials
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError

display = Display()
EXPECTED = (context.CatalogLookupError, credentials.CredentialsError, MigrationError, SideError)


def migration_context(templar, task_vars, args, options, engines=("postgresql",)):
    """The MigrationContext of ``args['workload']``, refused unless its engine is one of ``engines``; its source secrets are
    read from ``stateshift_workloads``."""
    catalog = context.catalog_fact(task_vars)
    _index, workload = context.find_workload(catalog, args["workload"])
    raw = task_vars.get("stateshift_workloads")
    raw = templar.template(raw) if raw is not None else None
    secrets = credentials.source_secrets(raw, args["workload"], workload.get("source") or {})
    return context.build(catalog, args["workload"], options, args.get("database"), engines, secrets=secrets)


def failure(exc, secrets=()):
    """The task's result for ``exc``: its message (with any secret value masked) and the phase it stopped in."""
    if isinstance(exc, EXPECTED):
        message = str(exc)
    else:
        display.vvv(masked(traceback.format_exc(), secrets))
        message = "unexpected %s: %s (re-run with -vvv for the traceback)" % (type(exc).__name__, exc)
    message = masked(message, secrets)
    phase = getattr(exc, "phase", "catalog" if isinstance(exc, (context.CatalogLookupError, credentials.CredentialsError)) else "copy")
    return {"failed": True, "changed": False, "msg": message, "phase": phase, "source_changed": False}


def masked(text, secrets):
    for value in secrets:
        if value:
            text = text.replace(value, "********")
    return text


def secrets_of(ctx):
    """The values a message must never show."""
    return [ctx.source.password] if ctx is not None and ctx.source.password else []
