# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a catalog workload's source database with the target's copy, read-only (see plugins/modules/pg_compare.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context, run
from ansible_collections.stateshift.k3s.plugins.plugin_utils import migration_task
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("pg_compare"))
        host = task_vars.get("inventory_hostname", "localhost")
        options = context.run_options(args, True, connection_options(args))
        ctx = None
        try:
            ctx = migration_task.migration_context(self._templar, task_vars, args, options)
            # a comparison always reads rows: count when the catalog verifies by count, else checksum
            level = "count" if ctx.verify == "count" else "checksum"
            with run.opened_engine(ctx, self._connection, host) as engine:
                outcome = run.compare(engine, level)
        except Exception as exc:  # every failure is reported as a result, never as a traceback
            result.update(migration_task.failure(exc, migration_task.secrets_of(ctx)))
            return result
        result.update(outcome)
        if not outcome["failed"]:
            display.display("[%s] %s" % (host, outcome["msg"]))
        return result
