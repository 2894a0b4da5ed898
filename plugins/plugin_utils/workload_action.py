# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The frame of an action plugin that works on one catalog workload's migration (pg_source_access, pg_final_sync):
its arguments checked against the module's documentation, the run's context, the engine opened over the task host's
SSH settings, each database of source.databases in turn (module_utils/migrate/databases.py), progress lines printed,
and every failure a result with a message and no secret."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import context, databases, run
from ansible_collections.stateshift.k3s.plugins.plugin_utils import migration_task
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec

display = Display()


class WorkloadAction(ActionBase):
    """Subclasses set ``module_name`` and implement ``work(engine, args, emit)``, returning the task's result."""

    TRANSFERS_FILES = False
    module_name = None
    engines = ("postgresql",)  # the catalog engines the module moves
    read_only = False  # the module never writes: it runs as in check mode whatever the task says
    per_database = True  # work() runs for each database of source.databases; False: once, for the source server

    def work(self, engine, args, emit):
        raise NotImplementedError

    def failed(self, result):
        """The result of a failed run; a subclass may add what only it knows."""
        return result

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec(self.module_name))
        host = task_vars.get("inventory_hostname", "localhost")
        options = context.run_options(args, self.read_only or self._task.check_mode, connection_options(args))
        ctx = None

        def emit(line):
            display.display("[%s] %s" % (host, line))

        def failure(exc):
            return self.failed(migration_task.failure(exc, migration_task.secrets_of(ctx)))

        try:
            ctx = migration_task.migration_context(self._templar, task_vars, args, options, self.engines)
            with run.opened_engine(ctx, self._connection, host) as engine:
                names = databases.names(engine, args.get("database")) if self.per_database else [engine.ctx.database]
                outcome = databases.each(engine, names, lambda one: self.work(one, args, emit), failure)
        except Exception as exc:  # every failure is reported as a result, never as a traceback
            result.update(failure(exc))
            return result
        result.update(outcome)
        if not result.get("failed"):
            emit(result["msg"])
        return result
