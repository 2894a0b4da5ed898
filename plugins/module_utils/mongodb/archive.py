# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a mongodump archive holds, read from its bytes as they stream past (memory stays flat, whatever its size).

The archive format of mongodump --archive (MongoDB's database tools, "archive format specification"): a magic
number, a header document, one metadata document per collection (its options and indexes, as extended JSON), a
terminator, then segments - a namespace header {db, collection, EOF: false}, documents, a terminator - interleaved
across collections, and for each collection a last header {EOF: true, CRC} and a terminator.

Per collection it keeps the metadata, the number of documents and an order-independent digest of them: the sum,
modulo 2**256, of each document's SHA-256 (the same documents in any order give the same digest).
"""

from __future__ import annotations

import hashlib
import struct
import zlib

try:
    import bson
    from bson import json_util
except ImportError:  # pymongo's bson; the modules report a missing pymongo
    bson = json_util = None

MAGIC = b"\x6d\xe2\x99\x81"
TERMINATOR = b"\xff\xff\xff\xff"
DIGEST_MODULUS = 1 << 256


class ArchiveError(Exception):
    """The bytes are not a complete mongodump archive; the message says where they stopped making sense."""


class Collection:
    def __init__(self, database, name):
        self.database, self.name = database, name
        self.metadata, self.count, self.bytes, self.sum, self.complete = {}, 0, 0, 0, False
        self.kind = "collection"  # or "view" (no documents: mongorestore creates it) or "timeseries"

    @property
    def namespace(self):
        return "%s.%s" % (self.database, self.name)

    @property
    def digest(self):
        return "%064x" % self.sum

    def add(self, document):
        self.count += 1
        self.bytes += len(document)
        self.sum = (self.sum + int.from_bytes(hashlib.sha256(document).digest(), "big")) % DIGEST_MODULUS

    def indexes(self):
        """The index specifications of the metadata but _id's (which every collection has)."""
        return [index for index in self.metadata.get("indexes") or [] if index.get("name") != "_id_"]


def document_digest(documents):
    """(count, digest) of raw BSON documents, as Collection computes them: what the target's documents are compared with."""
    collection = Collection("", "")
    for document in documents:
        collection.add(document)
    return collection.count, collection.digest


class ArchiveReader:
    """feed() the archive's bytes (gzip=True: as mongodump --gzip writes them), then finish(); ``collections``:
    {namespace: Collection}."""

    def __init__(self, gzip=False):
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self.buffer, self.offset = bytearray(), 0
        self.state, self.header, self.current = "magic", None, None
        self.collections = {}

    def feed(self, data):
        if self.inflater is not None:
            data = self.inflater.decompress(data)
        self.buffer += data
        self._parse_safely()
        del self.buffer[:self.offset]
        self.offset = 0

    @property
    def prelude_read(self):
        """The header and every collection's metadata are in (mongodump writes them before any document)."""
        return self.state not in ("magic", "header", "metadata")

    def finish(self):
        if self.inflater is not None:
            self.buffer += self.inflater.flush()
            self._parse_safely()
            if not self.inflater.eof:
                raise ArchiveError("the gzip stream ended early: the archive is cut")
        unfinished = sorted(c.namespace for c in self.collections.values() if not c.complete)
        if self.state not in ("segment", "magic") or unfinished or self.offset != len(self.buffer):
            raise ArchiveError("the archive ends before %s" % (", ".join(unfinished) + " ended" if unfinished else "its end"))
        return self.collections

    def _take(self, size):
        if len(self.buffer) - self.offset < size:
            return None
        chunk = bytes(self.buffer[self.offset:self.offset + size])
        self.offset += size
        return chunk

    def _next_document(self):
        """A BSON document's bytes, TERMINATOR, or None when more bytes are needed."""
        if len(self.buffer) - self.offset < 4:
            return None
        head = bytes(self.buffer[self.offset:self.offset + 4])
        if head == TERMINATOR:
            self.offset += 4
            return TERMINATOR
        (size,) = struct.unpack("<i", head)
        if size < 5:
            raise ArchiveError("a document of %d bytes at offset %d: not a mongodump archive" % (size, self.offset))
        return self._take(size)

    def _parse_safely(self):
        try:
            self._parse()
        except ArchiveError:
            raise
        except Exception as exc:  # bson's InvalidBSON, a header without db or collection: not an archive mongodump wrote
            raise ArchiveError("a %s at offset %d (%s): not a mongodump archive" % (type(exc).__name__, self.offset, exc)) from None

    def _parse(self):
        while True:
            if self.state == "magic":
                magic = self._take(4)
                if magic is None:
                    return
                if magic != MAGIC:
                    raise ArchiveError("it does not start with mongodump's archive magic number: not a mongodump --archive stream")
                self.state = "header"
                continue
            document = self._next_document()
            if document is None:
                return
            getattr(self, "_on_" + self.state)(document)

    def _on_header(self, document):
        self.header = bson.decode(document)
        self.state = "metadata"

    def _on_metadata(self, document):
        if document == TERMINATOR:
            self.state = "segment"
            return
        entry = bson.decode(document)
        collection = self._collection(entry["db"], entry["collection"])
        collection.metadata = json_util.loads(entry.get("metadata") or "{}")
        options = collection.metadata.get("options") or {}
        collection.kind = "view" if "viewOn" in options else "timeseries" if "timeseries" in options else entry.get("type") or "collection"

    def _on_segment(self, document):
        if document == TERMINATOR:
            raise ArchiveError("an empty segment: not a mongodump archive")
        entry = bson.decode(document)
        self.current = self._collection(entry["db"], entry["collection"])
        if entry.get("EOF"):
            self.current.complete = True
            self.state = "eof"
        else:
            self.state = "body"

    def _on_eof(self, document):
        if document != TERMINATOR:
            raise ArchiveError("no terminator after the end of %s" % self.current.namespace)
        self.state = "segment"

    def _on_body(self, document):
        if document == TERMINATOR:
            self.state = "segment"
            return
        self.current.add(document)

    def _collection(self, database, name):
        key = "%s.%s" % (database, name)
        if key not in self.collections:
            self.collections[key] = Collection(database, name)
        return self.collections[key]
