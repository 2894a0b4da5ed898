# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cutover's action plugins share: the workload from the catalog fact and a Cluster for it."""

from __future__ import annotations

import contextlib

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import Cluster
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl


class WorkloadNotFound(Exception):
    pass


def workload_of(task_vars, name):
    catalog = task_vars.get("ansible_facts", {}).get("stateshift_catalog") or task_vars.get("stateshift_catalog")
    if catalog is None:
        raise WorkloadNotFound("stateshift_catalog is not set: run stateshift.k3s.validate_catalog first")
    for workload in catalog:
        if workload["name"] == name:
            return workload
    raise WorkloadNotFound("workload %r is not in the catalog (known: %s)" % (name, ", ".join(w["name"] for w in catalog)))


@contextlib.contextmanager
def cluster_for(workload, args, check_mode):
    with Kubectl(workload["namespace"], connection_options(args), args["kubectl_bin"]) as kubectl:
        yield Cluster(kubectl, check_mode=check_mode)
