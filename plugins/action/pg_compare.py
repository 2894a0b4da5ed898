# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a catalog workload's source database with the target's copy, read-only (see plugins/modules/pg_compare.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context, run
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
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
        try:
            ctx = context.build(context.catalog_fact(task_vars), args["workload"], options, args["database"], tuple(run.ENGINES))
            # a comparison always reads rows: count when the catalog verifies by count, else checksum
            level = "count" if ctx.verify == "count" else "checksum"
            with run.opened_engine(ctx, self._connection, host) as engine:
                outcome = run.compare(engine, level)
        except (context.CatalogLookupError, MigrationError, SideError) as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        result.update(outcome)
        if not outcome["failed"]:
            display.display("[%s] %s" % (host, outcome["msg"]))
        return result
