# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The frame of the actions that move a MongoDB workload's database: WorkloadAction for engine mongodb, refused with
the fix when pymongo is missing on the controller."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import client
from ansible_collections.stateshift.k3s.plugins.plugin_utils.workload_action import WorkloadAction


class MongoAction(WorkloadAction):
    engines = ("mongodb",)

    def run(self, tmp=None, task_vars=None):
        if not client.HAS_PYMONGO:
            return {"failed": True, "changed": False, "msg": missing_required_lib("pymongo (on the controller)")}
        return super().run(tmp, task_vars)
