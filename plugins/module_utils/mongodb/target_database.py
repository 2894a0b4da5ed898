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


def index_specs(collection):
    """createIndexes' specifications of a dumped collection's indexes (all but _id's)."""
    return [{key: value for key, value in spec.items() if key not in INDEX_FIELDS_NOT_CREATED} for spec in collection.indexes()]


class TargetDatabase:
    def __init__(self, ctx, kubectl, pod, label):
        self.ctx, self.kubectl, self.pod, self.label = ctx, kubectl, pod, label
        self.opened = contextlib.ExitStack()
        self.member = None

    def close(self):
        self.opened.close()

    def _member(self):
        if self.member is None:
            ctx = self.ctx
            try:
                secret = secret_text(Cluster(self.kubectl).get("secret", ctx.auth_secret)) or {}
            except ClusterError as exc:
                raise SideError("cannot read Secret %s/%s: %s" % (ctx.namespace, ctx.auth_secret, exc)) from None
            if not secret.get(ctx.auth_password_key):
                raise SideError("Secret %s/%s has no key %s (the root password): run the secrets phase first"
                                % (ctx.namespace, ctx.auth_secret, ctx.auth_password_key))
            (self.member,) = self.opened.enter_context(client.member_clients(self.kubectl, [self.pod], ctx.auth_user,
                                                                             secret[ctx.auth_password_key]))
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

    def server_version(self):
        return self.call("buildInfo", lambda db: db.client.admin.command("buildInfo"))["version"]

    def collections(self):
        return sorted(name for name in self.call("listCollections", lambda db: db.list_collection_names())
                      if not name.startswith("system."))

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

    def document_counts(self):
        return self.call("counting documents", lambda db: {name: db[name].estimated_document_count() for name in self.collections()})
