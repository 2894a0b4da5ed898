# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules that take one catalog workload whole share (rabbitmq_*, mongodb_*): their arguments (doc fragment
catalog_workload) and the kubectl of the workload's namespace."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.objects import setting_value
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec, connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import KUBECTL_ARG_SPEC, Kubectl

FIELD_MANAGER = "stateshift.k3s"  # the roles' own, so the definitions Secret has one owner whichever phase wrote it
NOT_A_WORKLOAD = "workload: give one %s workload of the validated catalog (stateshift_catalog)"


def argument_spec(**options):
    return connection_arg_spec(workload=dict(type="dict", required=True), **options, **KUBECTL_ARG_SPEC)


def workload_kubectl(module, engine):
    """(workload, Kubectl of its namespace) of the module's arguments; fails the module when it is not a workload of ``engine``."""
    workload = module.params["workload"]
    if workload.get("engine") != engine or "objects" not in workload:
        module.fail_json(msg=NOT_A_WORKLOAD % engine)
    return workload, Kubectl(workload["namespace"], connection_options(module.params), module.params["kubectl_bin"])


def secret_text(secret):
    """{key: text} of a Secret read with Cluster.get (None when there is no such Secret)."""
    return None if secret is None else {key: setting_value(secret, key) for key in secret.get("data") or {}}
