# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the workload catalog on the controller, before a phase changes anything."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.secret_fields import redact
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import CatalogError, validate_catalog
from ansible_collections.stateshift.k3s.plugins.plugin_utils.docspec import argument_spec


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec("validate_catalog"))
        if args["workloads"] is not None:
            workloads = args["workloads"]
        elif "stateshift_workloads" in task_vars:
            workloads = self._templar.template(task_vars["stateshift_workloads"])
        else:
            result.update(failed=True, msg="no workload catalog: define stateshift_workloads in the inventory "
                                           "(group_vars/all) or pass workloads to this task")
            return result
        try:
            # The fact (and this task's result, shown by -v and in AWX job events) holds no secret value.
            catalog = [redact(workload) for workload in validate_catalog(workloads)]
        except CatalogError as exc:
            result.update(failed=True, msg=str(exc), errors=exc.errors)
            return result
        only = args["only"] if args["only"] is not None else _names(task_vars.get("workloads"))
        if only:
            unknown = sorted(set(only) - {w["name"] for w in catalog})
            if unknown:
                result.update(failed=True, msg="workloads names %s, not in the catalog (it has: %s): fix the names given with "
                                               "-e workloads=" % (", ".join(unknown), ", ".join(w["name"] for w in catalog)))
                return result
            catalog = [workload for workload in catalog if workload["name"] in only]
        fact_name = args["fact_name"]
        result.update(changed=False, catalog=catalog, ansible_facts={fact_name: catalog},
                      msg="%d workload(s) valid: %s" % (len(catalog), ", ".join(w["name"] for w in catalog)))
        return result


def _names(value):
    """The workload names of ``-e workloads=a,b`` (or a YAML list); None when it is not given."""
    if value in (None, "", []):
        return None
    return [name.strip() for name in (value.split(",") if isinstance(value, str) else value) if str(name).strip()]
