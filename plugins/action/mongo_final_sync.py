# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cutover's final sync of a MongoDB workload's database, its writers stopped (see plugins/modules/mongo_final_sync.py)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import final_sync
from ansible_collections.stateshift.k3s.plugins.plugin_utils.mongo_action import MongoAction


class ActionModule(MongoAction):
    module_name = "mongo_final_sync"

    def work(self, engine, args, emit):
        return final_sync.sync(engine, emit, blocked_source=False)
