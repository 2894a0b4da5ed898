"""The pieces of a MongoDB move, against real parts: FerretDB (the MongoDB wire protocol; no MongoDB server can run here)
as the old document store in a container of a Compose project on the legacy host (tests/lab/docker/legacy.sh mongo-up)
and as a pod on the lab's real node, MongoDB's own Go-built mongodump and mongorestore, real SSH and kubectl.

- a mongodump --archive --gzip streamed out of the source container over SSH is read as it passes
  (module_utils/mongodb/archive.py): per collection, the count and order-independent digest equal what the source
  holds, and the indexes are in its metadata;
- the same archive restored into the pod (mongorestore --noIndexRestore, as FerretDB needs) reads back, through the
  modules' member transport (kubectl port-forward + pymongo, SCRAM as the root user), with the same digests;
- that transport maps MongoDB's refusals (replSetGetStatus on a server without replica sets, a wrong password) onto
  CommandFailed with MongoDB's codes."""

from __future__ import annotations

import datetime
import secrets
import subprocess
import uuid

import pymongo
import pytest
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import archive, client
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.replset import CommandFailed

from . import ferretdb_pod
from .conftest import KUBECONFIG, REPO

pytestmark = pytest.mark.lab

LEGACY = REPO / "tests" / "lab" / "docker" / "legacy.sh"
SOURCE = "vinylvault-db"
SSH = "/var/cache/stateshift-k3s/lab/ssh"
RAW = CodecOptions(document_class=RawBSONDocument)


def source_address():
    return subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", SOURCE],
                          capture_output=True, text=True, check=True).stdout.strip()


def digests(database):
    """{namespace: (count, digest)} of every collection of a pymongo database, read as raw BSON."""
    return {"%s.%s" % (database.name, name): archive.document_digest(doc.raw for doc in database.get_collection(name, RAW).find())
            for name in database.list_collection_names()}


@pytest.fixture(scope="module")
def source():
    subprocess.run([str(LEGACY), "mongo-up"], check=True, capture_output=True)
    name = "vault_%s" % uuid.uuid4().hex[:6]
    mongo = pymongo.MongoClient(source_address(), 27017, directConnection=True, serverSelectionTimeoutMS=20000)
    database = mongo[name]
    database.records.insert_many([{"title": "r%d" % index, "artist": {"name": "a%d" % (index % 9), "born": 1900 + index % 90},
                                   "tracks": ["t%d" % t for t in range(index % 5)], "price": index * 0.25,
                                   "added": datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=index)}
                                  for index in range(700)])
    database.records.create_index([("artist.name", 1), ("title", 1)], name="artist_title")
    database.loans.insert_many([{"record": index, "member": "m%d" % (index % 13)} for index in range(150)])
    database.loans.create_index("record", unique=True, name="record_u")
    yield database
    mongo.drop_database(name)
    mongo.close()


def dump_over_ssh(database):
    """mongodump --archive --gzip of ``database``, run in the source container over SSH, read as it streams."""
    argv = ["ssh", "-i", "%s/id_ed25519" % SSH, "-p", "2222", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=%s/known_hosts" % SSH,
            "root@127.0.0.1", "docker", "exec", "-i", SOURCE, "mongodump", "--quiet", "--db", database.name, "--archive", "--gzip"]
    reader, chunks = archive.ArchiveReader(gzip=True), []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        for chunk in iter(lambda: process.stdout.read(65536), b""):
            reader.feed(chunk)
            chunks.append(chunk)
        assert process.wait() == 0, process.stderr.read()
    return reader.finish(), b"".join(chunks)


def test_an_archive_read_as_it_streams_matches_the_source(source):
    collections, _data = dump_over_ssh(source)
    assert {namespace: (c.count, c.digest) for namespace, c in collections.items()} == digests(source)
    assert [index["name"] for index in collections["%s.records" % source.name].indexes()] == ["artist_title"]
    assert collections["%s.loans" % source.name].indexes()[0]["unique"] is True


@pytest.fixture(scope="module")
def target(cluster):
    workload = validate_catalog([{"name": "vault", "namespace": "vault-%s" % uuid.uuid4().hex[:6], "engine": "mongodb",
                                  "auth": {"user": "root"}, "storage": {"size": "1Gi"}}])[0]
    password = "Root-%s" % secrets.token_hex(8)
    with ferretdb_pod.primary(workload, password):
        yield workload, password


def test_the_archive_restored_into_the_pod_reads_back_through_the_member_transport(source, target):
    workload, password = target
    collections, data = dump_over_ssh(source)
    restore = ["kubectl", "--kubeconfig", KUBECONFIG, "exec", "-i", "-n", workload["namespace"], workload["objects"]["primary_pod"], "--",
               "sh", "-c", 'exec mongorestore --quiet --archive --gzip --drop --noIndexRestore --username root '
               '--password "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin']
    restored = subprocess.run(restore, input=data, capture_output=True, check=False)
    assert restored.returncode == 0, restored.stderr.decode()
    kube = Kubectl(workload["namespace"], {"kubeconfig": KUBECONFIG})
    with kube, client.member_clients(kube, client.pods_of(workload), "root", password) as (member,):
        assert member.command({"hello": 1})["isWritablePrimary"] is True
        with pytest.raises(CommandFailed) as refused:
            member.command({"replSetGetStatus": 1})
        assert refused.value.code_name == "CommandNotFound"
        found = digests(member.mongo[source.name])
    assert found == {namespace: (c.count, c.digest) for namespace, c in collections.items()}


def test_a_wrong_password_is_a_refusal_with_its_code(target):
    workload, _password = target
    kube = Kubectl(workload["namespace"], {"kubeconfig": KUBECONFIG})
    with kube, client.member_clients(kube, client.pods_of(workload), "root", "not-the-password") as (member,), \
            pytest.raises(CommandFailed) as refused:
        member.command({"ping": 1})
    assert refused.value.code_name == "AuthenticationFailed"
