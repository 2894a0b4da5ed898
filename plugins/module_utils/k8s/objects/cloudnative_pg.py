# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PostgreSQL workload with ``ha: cloudnative-pg``: a CloudNativePG ``Cluster`` (postgresql.cnpg.io/v1), built as data.

The operator (which must run in the cluster) makes ``replicas`` instances, the first bootstrapped by ``initdb`` with the
catalog's first database owned by ``auth.user`` (password: the Secret ``objects.cnpg_owner_secret``, basic-auth, made by
the role from ``auth.secret``), and with a source, imports the source database into it at bootstrap
(``initdb.import``, type microservice: one database, its owner becomes auth.user). The client Service keeps the name
clients use and selects the instance the operator labels primary. The Secrets' values are the role's (no_log).
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import workload as workload_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced

API_VERSION = "postgresql.cnpg.io/v1"
PORT = 5432
CLUSTER_LABEL, ROLE_LABEL = "cnpg.io/cluster", "cnpg.io/instanceRole"
SOURCE = "source"  # the externalClusters entry the import reads


def _setting(value):
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def _host_port(address):
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return address.strip("[]"), PORT
    return host.strip("[]"), int(port)


def external_source(workload):
    """The source as CloudNativePG reaches it: address, user, database, sslmode, the password in the import Secret."""
    source = workload["source"]
    host, port = _host_port(source["address"])
    return {"name": SOURCE, "connectionParameters": {"host": host, "port": str(port), "user": source["user"],
                                                     "dbname": source["database"], "sslmode": source["sslmode"]},
            "password": {"name": workload["objects"]["cnpg_import_secret"], "key": "password"}}


def cluster(workload, claim_size=None):
    """The Cluster resource; ``claim_size``: the volume size to keep (default storage.size)."""
    objects = workload["objects"]
    result = namespaced(API_VERSION, "Cluster", objects["app"], workload)
    initdb = {"database": workload["databases"][0]["name"], "owner": workload["auth"]["user"],
              "secret": {"name": objects["cnpg_owner_secret"]}}
    spec = {
        "instances": workload["replicas"], "imageName": workload["image"], "primaryUpdateStrategy": "unsupervised",
        # the catalog's labels on every instance: the client Service and the tools select them with the workload's selector
        "inheritedMetadata": {"labels": dict(workload["labels"])},
        "storage": {"size": claim_size or workload["storage"]["size"]},
        "postgresql": {"parameters": {name: _setting(value) for name, value in sorted(workload["settings"].items())}},
        "affinity": {"enablePodAntiAffinity": True, "topologyKey": "kubernetes.io/hostname"},
        "bootstrap": {"initdb": initdb},
    }
    if workload["storage"]["class"]:
        spec["storage"]["storageClass"] = workload["storage"]["class"]
    if workload["resources"]:
        spec["resources"] = workload["resources"]
    if workload.get("source"):
        initdb["import"] = {"type": "microservice", "databases": [workload["source"]["database"]],
                            "source": {"externalCluster": SOURCE}}
        spec["externalClusters"] = [external_source(workload)]
    result["spec"] = spec
    return result


def client_service(workload):
    """The Service clients already use, on the instance the operator labels primary."""
    service = namespaced("v1", "Service", workload["objects"]["service"], workload)
    service["spec"] = {"type": "ClusterIP", "selector": {CLUSTER_LABEL: workload["objects"]["app"], ROLE_LABEL: "primary"},
                       "ports": [{"name": "postgresql", "port": PORT, "targetPort": PORT}]}
    return service


def cloudnative_pg_objects(workload, claim_size=None, namespace_labels=None):
    """The objects of a ``ha: cloudnative-pg`` workload in the order they are applied (its Secrets are the role's)."""
    return [workload_objects.namespace(workload, namespace_labels), cluster(workload, claim_size), client_service(workload)]
