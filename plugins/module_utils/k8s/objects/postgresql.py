# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Kubernetes object of a PostgreSQL workload, built as data from the validated catalog entry.

Values are placed in fields, never pasted into YAML, shell or SQL text: the scripts inside the
objects read them from environment variables (see scripts.py).
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import (
    backup,
    cloudnative_pg,
    network,
    patroni,
    restore,
    scripts,
    server,
)
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.workload import disruption_budget, namespace, service

PORT = 5432
PORTS = {"postgresql": PORT}


def postgresql_objects(workload, uid=999, claim_size=None, backup_claim_size=None, namespace_labels=None, api_endpoints=None):
    """The objects of ``workload`` (a validated catalog entry), in the order they are applied.

    claim_size, backup_claim_size: the sizes to write into the claims (default: storage.size and
    backup.pvc_size); an existing claim keeps its size, which the caller reads from the cluster.
    namespace_labels: the labels the namespace has now, if it exists (a stricter Pod Security level is kept).
    api_endpoints: [(ip, port)] of the API server, which a Patroni cluster's pods must reach (patroni.network_policy)."""
    if workload["ha"] == "cloudnative-pg":
        return cloudnative_pg.cloudnative_pg_objects(workload, claim_size, namespace_labels)
    if workload["ha"] == "patroni":
        return patroni.patroni_objects(workload, uid, claim_size or workload["storage"]["size"],
                                       backup_claim_size or workload["backup"]["pvc_size"], namespace_labels, api_endpoints)
    return [
        namespace(workload, namespace_labels),
        settings_config_map(workload),
        init_config_map(workload),
        service(workload, PORTS, headless=True),
        service(workload, PORTS, headless=False),
        server.statefulset(workload, uid, claim_size or workload["storage"]["size"]),
        disruption_budget(workload),
        network.policy(workload, PORTS.values()),
        backup.claim(workload, backup_claim_size or workload["backup"]["pvc_size"]),
        backup.cronjob(workload, uid),
    ] + ([restore.drill_cronjob(workload, uid)] if workload["backup"].get("drill") else [])


def settings_config_map(workload):
    config_map = namespaced("v1", "ConfigMap", workload["objects"]["config_map"], workload)
    config_map["data"] = {"stateshift.conf": scripts.postgresql_conf(workload["settings"])}
    return config_map


def init_config_map(workload):
    config_map = namespaced("v1", "ConfigMap", workload["objects"]["init_config_map"], workload)
    config_map["data"] = {"10-stateshift-init.sh": scripts.init_script(workload)}
    return config_map
