"""The MongoDB engine's own pieces: what the verification compares, the plan's collections after the copy, the copy's
archive handed to the verification, and the index specifications created from an archive."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import mongodb
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.archive import Collection
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.target_database import index_specs

from .fakes import FakeCluster, FakeSource, make_context


def collection(name, documents, indexes=()):
    made = Collection("vault", name)
    for document in documents:
        made.add(document)
    made.metadata = {"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_", "ns": "vault.%s" % name}, *indexes]}
    made.complete = True
    return made


RECORDS = collection("records", [b"\x05\x00\x00\x00\x00", b"\x0c\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x00"],
                     indexes=[{"v": 2, "key": {"artist.name": 1, "title": 1}, "name": "artist_title", "ns": "vault.records"}])
LOANS = collection("loans", [b"\x05\x00\x00\x00\x00"], indexes=[{"v": 2, "key": {"record": 1}, "name": "record_u", "unique": True}])


def engine(tmp_path):
    return mongodb.MongoEngine(make_context(), FakeSource(), FakeCluster(tmp_path).kubectl)


def test_indexes_are_created_as_dumped_but_for_what_the_server_chooses():
    assert index_specs(RECORDS) == [{"key": {"artist.name": 1, "title": 1}, "name": "artist_title"}]
    assert index_specs(LOANS) == [{"key": {"record": 1}, "name": "record_u", "unique": True}]


def test_the_source_half_has_digests_only_at_checksum():
    collections = {c.namespace: c for c in (RECORDS, LOANS)}
    half = mongodb.source_half(collections, "checksum")
    assert half["tables"]["records"] == {"rows": 2, "checksum": RECORDS.digest}
    assert half["objects"] == {"indexes": 2}
    assert mongodb.source_half(collections, "count")["tables"]["loans"] == {"rows": 1, "checksum": None}


def test_the_plan_takes_the_sizes_the_copy_found_and_collections_created_since():
    tables = [{"key": "records", "size_bytes": 0, "rows_estimate": 0}]
    mongodb.MongoEngine.record_sizes(tables, {c.namespace: c for c in (RECORDS, LOANS)})
    assert tables == [{"key": "records", "size_bytes": 17, "rows_estimate": 2}, {"key": "loans", "size_bytes": 5, "rows_estimate": 1}]


def test_the_verification_compares_with_the_archive_this_run_restored(tmp_path):
    capture = mongodb.CopyCapture()
    capture.finished({RECORDS.namespace: RECORDS})
    assert engine(tmp_path).verify_source("checksum", capture)["tables"] == {"records": {"rows": 2, "checksum": RECORDS.digest}}


def test_a_failed_copy_leaves_nothing_to_verify(tmp_path):
    capture = mongodb.CopyCapture()
    capture.finished(error="target pod vault/vault-mongodb-0: mongorestore failed: E11000 duplicate key")
    with pytest.raises(SideError, match="E11000 duplicate key"):
        engine(tmp_path).verify_source("checksum", capture)


def test_a_mismatch_names_the_collection():
    source = mongodb.source_half({c.namespace: c for c in (RECORDS, LOANS)}, "checksum")
    target = {"tables": {"records": {"rows": 2, "checksum": "0" * 64}, "loans": source["tables"]["loans"]}, "objects": {"indexes": 1}}
    report = mongodb.MongoEngine.compare(None, source, target, "checksum")
    assert report["mismatches"] == ["table records: same row count (2) but different contents (checksum)",
                                    "indexes: 2 on the source, 1 on the target"]


def test_progress_is_told_in_collections_and_documents(tmp_path):
    made = engine(tmp_path)
    assert made.progress_text() == "starting mongodump"
    made._copied = type("Reader", (), {"collections": {c.namespace: c for c in (RECORDS, LOANS)}})()
    assert made.progress_text() == "2/2 collections, 3 documents (22 B)"
