# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Kubernetes object of a MongoDB workload (a replica set), built as data from the validated catalog entry.

For the official ``mongo`` image: its entrypoint creates the root user (MONGO_INITDB_ROOT_*) on an empty volume,
then runs ``mongod --replSet <replica_set> --keyFile``. The keyFile comes from the Secret as a variable; the start
command writes it to a memory-backed file only mongod's user reads (mongod refuses a keyFile others can read). The
set is initiated and reconfigured by the mongodb_replset module, not by these objects.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import backup, network
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import workload as workload_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.pod import (
    container_security_context,
    database_pod_spec,
    secret_variable,
    server_container,
)
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.workload import namespace, service
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.replset import PORT, desired_members
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.tool_config import password_config

PORTS = {"mongodb": PORT}
DATA_DIR = "/data/db"
KEYFILE_DIR = "/run/stateshift-mongodb"
START = ('set -eu; (umask 077; printf %s "$STATESHIFT_MONGODB_KEYFILE" > ' + KEYFILE_DIR + '/keyfile); '
         'unset STATESHIFT_MONGODB_KEYFILE; exec docker-entrypoint.sh mongod --replSet "$STATESHIFT_REPLICA_SET" --bind_ip_all '
         '--port ' + str(PORT) + ' --keyFile ' + KEYFILE_DIR + '/keyfile')
# ping needs no authentication; mongosh starts a Node.js runtime, so it gets the same 10 s as RabbitMQ's CLI.
PING = ["mongosh", "--quiet", "--norc", "--eval", "quit(db.adminCommand({ping: 1}).ok === 1 ? 0 : 1)"]
BACKUP_SCRIPT = r"""
stamp=$(date -u +%Y%m%dT%H%M%SZ)
(umask 077; """ + password_config("MONGODB_PASSWORD", "/tmp/mongodump.yaml") + r""")
unset MONGODB_PASSWORD
mongodump --config=/tmp/mongodump.yaml --host="$MONGODB_HOSTS" --username="$MONGODB_USER" --authenticationDatabase=admin \
  --readPreference=secondaryPreferred --archive="$BACKUP_DIR/.$stamp.archive.gz" --gzip
rm -f /tmp/mongodump.yaml
test -s "$BACKUP_DIR/.$stamp.archive.gz"
mv "$BACKUP_DIR/.$stamp.archive.gz" "$BACKUP_DIR/$stamp.archive.gz"
find "$BACKUP_DIR" -maxdepth 1 -name '*.archive.gz' -mtime +"$RETENTION_DAYS" -print -delete
"""


def mongodb_objects(workload, uid=999, claim_size=None, backup_claim_size=None, namespace_labels=None):
    """The objects of ``workload`` (a validated catalog entry), in the order they are applied."""
    return [
        namespace(workload, namespace_labels),
        service(workload, PORTS, headless=True),
        service(workload, PORTS, headless=False),
        statefulset(workload, uid, claim_size or workload["storage"]["size"]),
        disruption_budget(workload),
        network_policy(workload),
        backup.claim(workload, backup_claim_size or workload["backup"]["pvc_size"]),
        backup_cronjob(workload, uid),
    ]


def member_hosts(workload):
    """The members' host:port names, stable across restarts: <pod>.<headless Service>.<namespace>.svc.cluster.local."""
    return [member["host"] for member in desired_members(workload)]


def probe(period, failures):
    return {"exec": {"command": list(PING)}, "periodSeconds": period, "timeoutSeconds": 10, "failureThreshold": failures}


def container(workload):
    auth = workload["auth"]
    result = server_container(workload, START, PORTS, [
        {"name": "STATESHIFT_REPLICA_SET", "value": workload["replica_set"]},
        {"name": "MONGO_INITDB_ROOT_USERNAME", "value": auth["user"]},
        secret_variable("MONGO_INITDB_ROOT_PASSWORD", auth["secret"], auth["password_key"]),
        secret_variable("STATESHIFT_MONGODB_KEYFILE", auth["secret"], auth["keyfile_key"])])
    result.update(startupProbe=probe(5, 60), readinessProbe=probe(10, 3), livenessProbe=probe(30, 6),
                  volumeMounts=[{"name": "data", "mountPath": DATA_DIR}, {"name": "keyfile", "mountPath": KEYFILE_DIR}])
    return result


def statefulset(workload, uid, claim_size):
    volumes = [{"name": "keyfile", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]
    spec = database_pod_spec(uid, [container(workload)], volumes)
    # Members on different nodes where there are nodes enough; a small cluster still runs every member.
    spec["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                            "labelSelector": {"matchLabels": dict(workload["selector"])}}}]}}
    return workload_objects.statefulset(workload, spec, claim_size, {"replica_set": workload["replica_set"]})


def disruption_budget(workload):
    """One member at a time may be evicted when a majority remains without it; a single member never is."""
    budget = workload_objects.disruption_budget(workload)
    if workload["replicas"] >= 3:
        budget["spec"]["maxUnavailable"] = 1
    return budget


def network_policy(workload):
    """The shared policy, and the members reaching one another (replication, elections, heartbeats)."""
    policy = network.policy(workload, PORTS.values())
    members = {"podSelector": {"matchLabels": dict(workload["selector"])}}
    policy["spec"]["ingress"][0]["from"].append(members)
    if "egress" in policy["spec"]:
        policy["spec"]["egress"].append({"to": [members], "ports": [{"port": PORT, "protocol": "TCP"}]})
    return policy


def backup_cronjob(workload, uid):
    """mongodump --archive --gzip of the whole set (read from a secondary when there is one) into the backup volume."""
    auth = workload["auth"]
    dump = {
        "name": "mongodump", "image": workload["image"], "imagePullPolicy": "IfNotPresent",
        "securityContext": container_security_context(),
        "env": [{"name": "MONGODB_HOSTS", "value": "%s/%s" % (workload["replica_set"], ",".join(member_hosts(workload)))},
                {"name": "MONGODB_USER", "value": auth["user"]},
                secret_variable("MONGODB_PASSWORD", auth["secret"], auth["password_key"]),
                {"name": "RETENTION_DAYS", "value": str(workload["backup"]["retention_days"])},
                {"name": "BACKUP_DIR", "value": backup.BACKUP_DIR}],
        "command": ["sh", "-euc", BACKUP_SCRIPT],
        "volumeMounts": [{"name": "backup", "mountPath": backup.BACKUP_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    return backup.scheduled_job(workload, uid, [dump])
