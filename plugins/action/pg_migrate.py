# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the migration runbook on the controller for one catalog workload, printing progress as it goes
(see plugins/modules/pg_migrate.py)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import run
from ansible_collections.stateshift.k3s.plugins.plugin_utils.workload_action import WorkloadAction


class ActionModule(WorkloadAction):
    module_name = "pg_migrate"

    def work(self, engine, args, emit):
        return run.migrate(engine, emit=emit)
