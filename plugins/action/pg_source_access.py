# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Block writes on a workload's source database for the cutover, or let them through again
(see plugins/modules/pg_source_access.py)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import access
from ansible_collections.stateshift.k3s.plugins.plugin_utils.workload_action import WorkloadAction


class ActionModule(WorkloadAction):
    module_name = "pg_source_access"

    def work(self, engine, args, emit):
        if args["state"] == "blocked":
            return access.block(engine, emit, args["side"])
        return access.reopen(engine, emit, args["side"])
