# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database a MongoDB move writes, on the replica set's primary pod, through pymongo (mongodb/client.py) logged in as
the catalog's root user with the password of its Secret. Every failure is a SideError naming what was asked."""

from __future__ import annotations

import contextlib

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import Cluster, ClusterError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.workload_module import secret_text
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import client
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.archive import document_digest
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.replset import CommandFailed

try:
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument
    RAW = CodecOptions(document_class=RawBSONDocument)
except ImportError:  # pymongo's bson; the action reports a missing pymongo before any engine is built
    RAW = None

INDEX_FIELDS_NOT_CREATED = ("ns", "v")  # recorded by mongodump, chosen by the server on createIndexes
COMMAND_NOT_FOUND = 59


def index_specs(collection):
    """createIndexes' specifications of a dumped collection's indexes (all but _id's)."""
    return [{key: value for key, value in spec.items() if key not in INDEX_FIELDS_NOT_CREATED} for spec in collection.indexes()]


def db_hash(db):
    """dbHash of ``db``, or None on a server without it (FerretDB)."""
    try:
        return db.command("dbHash")
    except client.OperationFailure as exc:
        if exc.code == COMMAND_NOT_FOUND:
            return None
        raise


class TargetDatabase:
    """``pod``: the member tried first (the StatefulSet's first); find_primary() moves to the set's primary."""

    def __init__(self, ctx, kubectl, pod, label):
        self.ctx, self.kubectl, self.pod, self.label = ctx, kubectl, pod, label
        self.opened = contextlib.ExitStack()
        self.member, self._password = None, None

    def close(self):
        self.opened.close()

    def password(self):
        if self._password is None:
            ctx = self.ctx
            try:
                secret = secret_text(Cluster(self.kubectl).get("secret", ctx.auth_secret)) or {}
            except ClusterError as exc:
                raise SideError("cannot read Secret %s/%s: %s" % (ctx.namespace, ctx.auth_secret, exc)) from None
            if not secret.get(ctx.auth_password_key):
                raise SideError("Secret %s/%s has no key %s (the root password): run the secrets phase first"
                                % (ctx.namespace, ctx.auth_secret, ctx.auth_password_key))
            self._password = secret[ctx.auth_password_key]
        return self._password

    def _member(self):
        if self.member is None:
            (self.member,) = self.opened.enter_context(client.member_clients(self.kubectl, [self.pod], self.ctx.auth_user,
                                                                             self.password()))
        return self.member

    def call(self, what, work):
        """``work(database)``; pymongo's failures become SideError naming ``what``."""
        member = self._member()
        try:
            if member.mongo is None:
                member.command({"ping": 1})
            return work(member.mongo[self.ctx.database])
        except (client.MemberSilent, CommandFailed, client.PyMongoError) as exc:
            raise SideError("%s: %s: %s" % (self.label, what, exc)) from None

    def find_primary(self):
        """The pod of the set's primary (this one, or the one its hello names); writes go there."""
        hello = self.call("hello", lambda db: db.client.admin.command("hello"))
        if hello.get("isWritablePrimary"):
            return self.pod
        primary = str(hello.get("primary") or "").split(".", 1)[0].split(":", 1)[0]
        if not primary:
            raise SideError("%s: the replica set has no primary (hello names none): wait until one is elected "
                            "(stateshift.k3s.mongodb_ready), then re-run" % self.label)
        self.label = self.label.replace(self.pod, primary)
        self.pod, self.member = primary, None
        return primary

    def server_version(self):
        return self.call("buildInfo", lambda db: db.client.admin.command("buildInfo"))["version"]

    def collections(self):
        """The database's collections that hold documents (not views, not system collections)."""
        listed = self.call("listCollections", lambda db: list(db.list_collections()))
        return sorted(info["name"] for info in listed if info.get("type", "collection") == "collection"
                      and not info["name"].startswith("system."))

    def drop(self):
        self.call("dropDatabase", lambda db: db.client.drop_database(db.name))

    def create_indexes(self, collections):
        """The indexes of an archive's collections, one createIndexes per collection."""
        for collection in collections.values():
            specs = index_specs(collection)
            if specs:
                self.call("createIndexes on %s (%s)" % (collection.name, ", ".join(str(spec.get("name")) for spec in specs)),
                          lambda db, name=collection.name, indexes=specs: db.command({"createIndexes": name, "indexes": indexes}))

    def verification_half(self, checksum):
        """Per collection its documents (and their digest when ``checksum``), and the number of indexes but _id's."""
        def read(db):
            tables, indexes = {}, 0
            for name in self.collections():
                if checksum:
                    rows, digest = document_digest(document.raw for document in db.get_collection(name, RAW).find())
                else:
                    rows, digest = db[name].count_documents({}), None
                tables[name] = {"rows": rows, "checksum": digest}
                indexes += sum(1 for index in db[name].list_indexes() if index["name"] != "_id_")
            return {"tables": tables, "objects": {"indexes": indexes}}

        return self.call("reading the copied collections", read)

    def fingerprint(self):
        """What changes when anything writes to the database: dbHash's per-collection hashes where the server has it,
        else each collection's order-independent digest of its documents (read whole)."""
        hashed = self.call("dbHash", db_hash)
        if hashed is not None:
            return {"dbHash": hashed.get("collections") or {}}
        return {"digest": {name: row["checksum"] for name, row in self.verification_half(True)["tables"].items()}}
