# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the storage catalog (stateshift_storage) on the controller, before the storage phase changes anything."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.stateshift.k3s.plugins.module_utils.storage.classes import StorageInputError
from ansible_collections.stateshift.k3s.plugins.module_utils.storage.spec import validate_storage
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("validate_storage"))
        storage = args["storage"]
        if storage is None:
            if "stateshift_storage" not in task_vars:
                result.update(failed=True, msg="no storage catalog: define stateshift_storage in the inventory (group_vars/all) "
                                               "or pass storage to this task")
                return result
            storage = self._templar.template(task_vars["stateshift_storage"])
        try:
            checked = validate_storage(storage)
        except StorageInputError as exc:
            result.update(failed=True, msg="stateshift_storage: %s" % exc, errors=exc.errors)
            return result
        result.update(changed=False, storage=checked, ansible_facts={args["fact_name"]: checked},
                      msg="%d backend(s), %d StorageClass(es) valid" % (len(checked["backends"]), len(checked["classes"])))
        return result
