from __future__ import annotations

import gzip
import json

import bson
import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import archive

TERMINATOR = b"\xff\xff\xff\xff"


def built(collections, interleave=True):
    """An archive laid out as mongodump writes one: {namespace: (metadata, [documents])}, segments interleaved."""
    out = [archive.MAGIC, bson.encode({"concurrent_collections": 4, "version": "0.1", "server_version": "7.0.42"})]
    for namespace, (metadata, _documents) in collections.items():
        database, name = namespace.split(".", 1)
        out.append(bson.encode({"db": database, "collection": name, "metadata": json.dumps(metadata), "size": 0, "type": "collection"}))
    out.append(TERMINATOR)
    pending = {namespace: list(documents) for namespace, (_metadata, documents) in collections.items()}
    while any(pending.values()):
        for namespace, documents in pending.items():
            if not documents:
                continue
            database, name = namespace.split(".", 1)
            taken = documents[:2] if interleave else list(documents)
            del documents[:len(taken)]
            out += [bson.encode({"db": database, "collection": name, "EOF": False}), *[bson.encode(d) for d in taken], TERMINATOR]
    for namespace in collections:
        database, name = namespace.split(".", 1)
        out += [bson.encode({"db": database, "collection": name, "EOF": True, "CRC": bson.Int64(0)}), TERMINATOR]
    return b"".join(out)


ORDERS = [{"_id": index, "lines": [{"sku": "a", "qty": index}]} for index in range(5)]
PEOPLE = [{"_id": "p%d" % index, "address": {"city": "x"}} for index in range(3)]
METADATA = {"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"},
                        {"v": 2, "key": {"order_no": 1}, "name": "order_no_u", "unique": True}]}


def read(data, chunk=7, gzip_it=False):
    reader = archive.ArchiveReader(gzip=gzip_it)
    payload = gzip.compress(data) if gzip_it else data
    for start in range(0, len(payload), chunk):
        reader.feed(payload[start:start + chunk])
    return reader.finish()


@pytest.mark.parametrize("gzip_it", [False, True])
def test_counts_digests_and_indexes_per_collection(gzip_it):
    found = read(built({"shop.orders": (METADATA, ORDERS), "shop.people": ({}, PEOPLE)}), gzip_it=gzip_it)
    assert {namespace: c.count for namespace, c in found.items()} == {"shop.orders": 5, "shop.people": 3}
    assert [index["name"] for index in found["shop.orders"].indexes()] == ["order_no_u"]
    assert found["shop.orders"].digest == archive.document_digest(bson.encode(d) for d in reversed(ORDERS))[1]


def test_the_digest_does_not_depend_on_order_but_on_every_document():
    in_order = read(built({"shop.orders": ({}, ORDERS)}, interleave=False))["shop.orders"].digest
    assert read(built({"shop.orders": ({}, list(reversed(ORDERS)))}))["shop.orders"].digest == in_order
    changed = [dict(ORDERS[0], lines=[{"sku": "a", "qty": 99}]), *ORDERS[1:]]
    assert read(built({"shop.orders": ({}, changed)}))["shop.orders"].digest != in_order


def test_a_cut_archive_is_refused():
    data = built({"shop.orders": ({}, ORDERS)})
    with pytest.raises(archive.ArchiveError, match="ends before"):
        read(data[:-30])
    with pytest.raises(archive.ArchiveError, match="gzip stream ended early"):
        reader = archive.ArchiveReader(gzip=True)
        reader.feed(gzip.compress(data)[:-10])
        reader.finish()


def test_something_else_is_refused_at_once():
    with pytest.raises(archive.ArchiveError, match="not a mongodump --archive stream"):
        archive.ArchiveReader().feed(b"PGDMP\x01\x0e\x00")


def test_bytes_that_are_not_an_archive_are_an_archive_error_not_a_crash():
    reader = archive.ArchiveReader()
    with pytest.raises(archive.ArchiveError, match="not a mongodump archive"):
        reader.feed(archive.MAGIC + bson.encode({"version": "0.1"}) + bson.encode({"no": "db"}))


def test_a_view_is_known_as_one():
    data = built({"vault.records": ({"options": {}}, [{"a": 1}]), "vault.cheap": ({"options": {"viewOn": "records"}}, [])})
    reader = archive.ArchiveReader()
    reader.feed(data)
    kinds = {c.name: c.kind for c in reader.finish().values()}
    assert kinds == {"records": "collection", "cheap": "view"}
