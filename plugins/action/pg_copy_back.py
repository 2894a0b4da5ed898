# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy a catalog workload's StatefulSet database back into its source database, on the controller, printing progress
as it goes (see plugins/modules/pg_copy_back.py)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import copy_back
from ansible_collections.stateshift.k3s.plugins.plugin_utils.workload_action import WorkloadAction


class ActionModule(WorkloadAction):
    module_name = "pg_copy_back"

    def work(self, engine, args, emit):
        return copy_back.copy_back(engine, emit=emit)

    def failed(self, result):
        # the copy-back writes the source: it changed only when the failure came after COMMIT
        result["source_changed"] = result["phase"] == "verify"
        return result
