# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a catalog workload's source database with the target's copy, read-only (see plugins/modules/pg_compare.py)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import run
from ansible_collections.stateshift.k3s.plugins.plugin_utils.workload_action import WorkloadAction


class ActionModule(WorkloadAction):
    module_name = "pg_compare"
    read_only = True

    def work(self, engine, args, emit):
        # a comparison always reads rows: count when the catalog verifies by count, else checksum
        return run.compare(engine, "count" if engine.ctx.verify == "count" else "checksum")
