# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy a MongoDB database from its old container into the workload's replica set, verified, on the controller
(see plugins/modules/mongo_migrate.py)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import run
from ansible_collections.stateshift.k3s.plugins.plugin_utils.mongo_action import MongoAction


class ActionModule(MongoAction):
    module_name = "mongo_migrate"

    def work(self, engine, args, emit):
        return run.migrate(engine, emit=emit)
