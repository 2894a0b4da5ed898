# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the migration engine on the controller, printing progress as it goes (see plugins/modules/pg_migrate.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.engine import Migration, MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.request import MIGRATE_SPEC, source_host_ssh
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=MIGRATE_SPEC)
        host = task_vars.get("inventory_hostname", "localhost") if task_vars else "localhost"
        try:
            with source_host_ssh(args, self._connection, host) as ssh:
                migration = Migration(args, emit=lambda line: display.display("[%s] %s" % (host, line)), ssh=ssh)
                outcome = migration.run(check_mode=self._task.check_mode)
        except (MigrationError, SideError) as exc:
            result.update(failed=True, changed=False, msg=str(exc), phase=getattr(exc, "phase", "copy"),
                          source_changed=False)
            return result
        result.update(outcome)
        if not result.get("failed"):
            display.display("[%s] %s" % (host, result["msg"]))
        return result
