"""mongo_migrate through the migrate playbook, against real parts: the old document store is FerretDB (MongoDB's wire
protocol; no MongoDB server can run here) in the vinylvault Compose project on the legacy host, reached over real SSH
with MongoDB's own Go-built mongodump; the target is FerretDB in a pod playing the replica set's primary
(ferretdb_pod.py), written by mongorestore over kubectl exec and read back with pymongo through kubectl port-forward.

- --check --diff says what would be copied and writes nothing;
- a run after an interrupted one (marker: copying; half the documents and a stray collection in) backs up, drops the
  target database, copies, creates the indexes and verifies: what the target holds equals what the source holds,
  document for document (digests computed here, independently, over pymongo); a re-run only re-verifies; no password
  at -vvv;
- the backup CronJob the mongodb role applies, run as a Job (on FerretDB's image, reaching the client Service: FerretDB
  has no replica set), writes one archive holding what the set holds;
- a cutover with no compose_dir (nothing would stop the writers) is refused before the ledger records a start;
- the cutover stops the application's Compose service, copies again what changed on the old server since the copy,
  verifies, and points the client's mongodb:// URL at the set's Service (its password kept), a re-run changes nothing;
- a copy written to since is never replaced by force; a container that is not MongoDB is named."""

from __future__ import annotations

import datetime
import json
import re
import secrets
import subprocess
import uuid

import pymongo
import pytest
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.mongodb import mongodb_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.safe_names import safe_name
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import archive, client

from . import ferretdb_pod
from .conftest import KUBECONFIG, REPO, kubectl
from .migration_helpers import legacy_ssh

pytestmark = pytest.mark.lab

LEGACY = REPO / "tests" / "lab" / "docker" / "legacy.sh"
PLAYBOOKS = REPO / "playbooks"
SOURCE = "vinylvault-db"
RAW = CodecOptions(document_class=RawBSONDocument)


def source_client():
    address = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", SOURCE],
                             capture_output=True, text=True, check=True).stdout.strip()
    return pymongo.MongoClient(address, 27017, directConnection=True, serverSelectionTimeoutMS=20000)


def contents(database):
    """{collection: (count, digest)} read over pymongo, and the index names but _id's."""
    found = {name: archive.document_digest(doc.raw for doc in database.get_collection(name, RAW).find())
             for name in database.list_collection_names() if not name.startswith("system.")}
    indexes = sorted(index["name"] for name in found for index in database[name].list_indexes() if index["name"] != "_id_")
    return found, indexes


def apply(body):
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(body), text=True, check=True,
                   capture_output=True)


class Move:
    def __init__(self, playbook):
        self.playbook = playbook
        self.database = "vault_%s" % uuid.uuid4().hex[:6]
        self.password = "Root-%s" % secrets.token_hex(10)
        self.workload = {"name": "vinylvault", "namespace": "vinylvault-%s" % uuid.uuid4().hex[:6], "engine": "mongodb",
                         "auth": {"user": "root"}, "storage": {"size": "1Gi"},
                         "source": {"host": "legacy-vm", "container": SOURCE, "database": self.database,
                                    "compose_dir": "/home/app/vinylvault", "compose_services": ["api"]},
                         "migration": {"backup_dir": "/var/backups/stateshift"},
                         "clients": [{"name": "vault-app",
                                      "settings": [{"kind": "ConfigMap", "name": "vault-app-config", "key": "MONGO_URL"}]}]}
        self.checked = validate_catalog([self.workload])[0]

    def seed(self, mongo):
        database = mongo[self.database]
        database.records.insert_many([{"title": "r%d" % index, "artist": {"name": "a%d" % (index % 9)}, "price": index * 0.25,
                                       "tracks": ["t%d" % t for t in range(index % 4)],
                                       "added": datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=index)}
                                      for index in range(900)])
        database.records.create_index([("artist.name", 1), ("title", 1)], name="artist_title")
        database.loans.insert_many([{"record": index, "member": "m%d" % (index % 13)} for index in range(200)])
        database.loans.create_index("record", unique=True, name="record_u")

    def run(self, *extra, workload=None, check=True, playbook="migrate.yml"):
        variables = {"stateshift_workloads": [workload or self.workload]}
        return self.playbook.run(PLAYBOOKS / playbook, "-e", json.dumps(variables), *extra, check=check)

    def start_client(self):
        """The application in the cluster, reading the database's address from a ConfigMap (the old URL, with a password)."""
        namespace = self.checked["namespace"]
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vault-app-config", "namespace": namespace},
                  "data": {"MONGO_URL": "mongodb://root:%s@vinylvault-db.example:27017/%s?authSource=admin"
                                        % (self.password, self.database)}}
        labels = {"app": "vault-app"}
        deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "vault-app", "namespace": namespace},
                      "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                               "template": {"metadata": {"labels": labels},
                                            "spec": {"terminationGracePeriodSeconds": 0, "containers": [
                                                {"name": "app", "image": "debian:bookworm", "command": ["sleep", "infinity"],
                                                 "envFrom": [{"configMapRef": {"name": "vault-app-config"}}]}]}}}}
        for body in (config, deployment):
            apply(body)

    def target(self):
        """The target database's contents, read as the mongodb modules do (port-forward, pymongo, root user)."""
        kube = Kubectl(self.checked["namespace"], {"kubeconfig": KUBECONFIG})
        with kube, client.member_clients(kube, client.pods_of(self.checked), "root", self.password) as (member,):
            return contents(member.mongo[self.database])

    def leave_an_interrupted_copy(self):
        """What a run killed during the copy leaves: the marker saying copying, part of the documents, nothing else right."""
        record = {"state": "copying", "started": "2026-12-03T00:00:00Z", "updated": "2026-12-03T00:00:01Z"}
        marker = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": self.checked["objects"]["migration_marker"]},
                  "data": {safe_name(self.database): json.dumps(record)}}
        subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-n", self.checked["namespace"], "-f", "-"],
                       input=json.dumps(marker), text=True, check=True, capture_output=True)
        kube = Kubectl(self.checked["namespace"], {"kubeconfig": KUBECONFIG})
        with kube, client.member_clients(kube, client.pods_of(self.checked), "root", self.password) as (member,):
            member.mongo[self.database].records.insert_many([{"title": "half-%d" % index} for index in range(40)])
            member.mongo[self.database].stray.insert_one({"left": "by the interrupted run"})

    def write_to_target(self):
        kube = Kubectl(self.checked["namespace"], {"kubeconfig": KUBECONFIG})
        with kube, client.member_clients(kube, client.pods_of(self.checked), "root", self.password) as (member,):
            member.mongo[self.database].loans.insert_one({"record": 100000, "member": "late"})


@pytest.fixture(scope="module")
def move(playbook, cluster):
    subprocess.run([str(LEGACY), "mongo-up"], check=True, capture_output=True)
    made = Move(playbook)
    mongo = source_client()
    made.seed(mongo)
    try:
        with ferretdb_pod.primary(made.checked, made.password):
            made.start_client()
            yield made
    finally:
        mongo.drop_database(made.database)
        mongo.close()
        subprocess.run(["docker", "start", "vinylvault-api"], capture_output=True, check=False)


def test_check_mode_says_what_would_be_copied_and_writes_nothing(move):
    run = move.run("--check", "--diff")
    assert "would copy 2 collections" in run.stdout, run.stdout[-3000:]
    assert move.target() == ({}, [])


def test_an_interrupted_copy_is_redone_verified_and_a_rerun_only_reverifies(move, tmp_path):
    move.leave_an_interrupted_copy()
    run = move.run("-vvv", "-e", "data_migration_report_dir=%s" % tmp_path)
    assert "copied 2 collections" in run.stdout and "verification passed" in run.stdout, run.stdout[-4000:]
    assert move.password not in run.stdout + run.stderr
    expected = contents(source_client()[move.database])
    assert move.target() == expected
    assert expected[1] == ["artist_title", "record_u"]
    report = json.loads((tmp_path / ("vinylvault-%s.json" % move.database)).read_text())
    assert {row["table"]: row["target_rows"] for row in report["tables"]} == {"records": 900, "loans": 200}
    assert report["objects"]["indexes"] == {"source": 2, "target": 2, "match": True}
    on_host = legacy_ssh("sha256sum %s" % report["backup"]["path"])
    assert report["backup"]["path"].endswith(".archive.gz")
    assert on_host.returncode == 0 and on_host.stdout.split()[0] == report["backup"]["sha256"]

    again = move.run()
    assert "already migrated" in again.stdout and "re-verified: ok" in again.stdout, again.stdout[-3000:]
    assert "changed=0" in again.stdout.split("PLAY RECAP")[-1]


def test_the_backup_cronjob_writes_an_archive_of_what_the_set_holds(move):
    namespace, objects = move.checked["namespace"], move.checked["objects"]
    built = {body["kind"]: body for body in mongodb_objects(move.checked)}
    dump = built["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    # the mongo image cannot run here: FerretDB's carries the same Go-built mongodump; and FerretDB has no replica set,
    # so the set's seed list (rs0/<members>) becomes the client Service
    dump["image"] = ferretdb_pod.container(move.checked)["image"]
    hosts = next(variable for variable in dump["env"] if variable["name"] == "MONGODB_HOSTS")
    assert hosts["value"].startswith("rs0/%s-0.%s." % (objects["statefulset"], objects["headless_service"]))
    hosts["value"] = "%s:27017" % objects["service"]
    for kind in ("PersistentVolumeClaim", "CronJob"):
        apply(built[kind])
    kubectl("create", "job", "-n", namespace, "--from=cronjob/%s" % objects["backup_cronjob"], "backup-now")
    kubectl("wait", "-n", namespace, "--for=condition=complete", "job/backup-now", "--timeout=180s")
    apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "backup-reader", "namespace": namespace},
           "spec": {"terminationGracePeriodSeconds": 0, "securityContext": {"runAsUser": 999, "runAsGroup": 999, "fsGroup": 999},
                    "containers": [{"name": "reader", "image": dump["image"], "command": ["sleep", "600"],
                                    "volumeMounts": [{"name": "backup", "mountPath": "/backup"}]}],
                    "volumes": [{"name": "backup", "persistentVolumeClaim": {"claimName": objects["backup_claim"]}}]}})
    kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/backup-reader", "--timeout=120s")
    listed = kubectl("exec", "-n", namespace, "backup-reader", "--", "ls", "-A", "/backup").stdout.split()
    assert len(listed) == 1 and re.fullmatch(r"\d{8}T\d{6}Z\.archive\.gz", listed[0]), listed
    data = subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "exec", "-n", namespace, "backup-reader", "--", "cat",
                           "/backup/%s" % listed[0]], capture_output=True, check=True).stdout
    reader = archive.ArchiveReader(gzip=True)
    reader.feed(data)
    dumped = {c.name: (c.count, c.digest) for c in reader.finish().values() if c.database == move.database}
    assert dumped == move.target()[0]


def test_a_cutover_with_nothing_to_stop_the_writers_is_refused(move):
    source = {key: value for key, value in move.workload["source"].items() if key not in ("compose_dir", "compose_services")}
    run = move.run(workload=dict(move.workload, source=source), playbook="cutover.yml", check=False)
    assert run.returncode != 0
    assert "source.compose_dir is not set, so nothing would stop the application writing" in run.stdout, run.stdout[-3000:]
    ledger = subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "get", "configmap", "-n", move.checked["namespace"],
                             move.checked["objects"]["ledger"], "-o", "name"], capture_output=True, text=True, check=False)
    assert ledger.returncode != 0, "the cutover was recorded as started"


def test_the_cutover_copies_again_what_changed_since_and_points_the_client_at_the_set(move):
    source = source_client()
    source[move.database].loans.insert_many([{"record": 5000 + index, "member": "after-the-copy"} for index in range(30)])
    source[move.database].records.delete_one({"title": "r7"})
    run = move.run("-vvv", playbook="cutover.yml")
    assert "the source changed since the copy" in run.stdout and "verification passed" in run.stdout, run.stdout[-4000:]
    assert move.password not in run.stdout + run.stderr
    assert move.target() == contents(source[move.database])
    assert move.target()[0]["loans"][0] == 230
    api = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", "vinylvault-api"], capture_output=True, text=True, check=True)
    assert api.stdout.strip() == "false", "the application service on the old host was not stopped"
    url = json.loads(subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "get", "configmap", "-n", move.checked["namespace"],
                                     "vault-app-config", "-o", "json"], capture_output=True, text=True, check=True).stdout)["data"]
    assert url["MONGO_URL"] == "mongodb://root:%s@vinylvault-mongodb.%s.svc:27017/%s?authSource=admin" % (
        move.password, move.checked["namespace"], move.database)
    again = move.run(playbook="cutover.yml")
    assert "changed=0" in again.stdout.split("PLAY RECAP")[-1], again.stdout[-3000:]


def test_a_copy_written_to_since_is_not_replaced_even_with_force(move):
    move.write_to_target()
    left_out = move.run("-e", "stateshift_force=true")
    assert "its ledger says cut_over, so this phase leaves it out" in left_out.stdout, left_out.stdout[-3000:]
    assert move.target()[0]["loans"][0] == 231
    # without the ledger (removed by hand), the module's own guard still refuses; the next test runs without it too
    subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "delete", "configmap", "-n", move.checked["namespace"],
                    move.checked["objects"]["ledger"]], capture_output=True, check=True)
    run = move.run("-e", "stateshift_force=true", check=False)
    assert run.returncode != 0
    assert "holds a verified copy" in run.stdout, run.stdout[-3000:]
    assert move.target()[0]["loans"][0] == 231


def test_a_container_that_is_not_mongodb_is_named_before_any_change(move):
    workload = dict(move.workload, source=dict(move.workload["source"], container="invoicetron-db"))
    run = move.run(workload=workload, check=False)
    assert run.returncode != 0
    assert "'mongodump' is not installed in container 'invoicetron-db' on legacy-vm" in run.stdout, run.stdout[-3000:]
