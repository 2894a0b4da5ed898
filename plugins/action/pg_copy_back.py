# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy a catalog workload's StatefulSet database back into its source database, on the controller, printing progress
as it goes (see plugins/modules/pg_copy_back.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context, copy_back, run
from ansible_collections.stateshift.k3s.plugins.plugin_utils import migration_task
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("pg_copy_back"))
        host = task_vars.get("inventory_hostname", "localhost")
        options = context.run_options(args, self._task.check_mode, connection_options(args))
        ctx = None
        try:
            ctx = migration_task.migration_context(self._templar, task_vars, args, options)
            with run.opened_engine(ctx, self._connection, host) as engine:
                outcome = copy_back.copy_back(engine, emit=lambda line: display.display("[%s] %s" % (host, line)))
        except Exception as exc:  # every failure is reported as a result, never as a traceback
            result.update(migration_task.failure(exc, migration_task.secrets_of(ctx)))
            # the copy-back writes the source: it changed only when the failure came after COMMIT
            result["source_changed"] = result["phase"] == "verify"
            return result
        result.update(outcome)
        if not result.get("failed"):
            display.display("[%s] %s" % (host, result["msg"]))
        return result
