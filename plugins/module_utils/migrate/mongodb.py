# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MongoDB's half of a migration (interface.Engine): one database of an old container into the replica set's primary.

- preflight: the container has mongodump and its server answers (the archive's prelude, read and the dump stopped,
  lists the collections and their indexes, and the server's version); the target pod answers as the root user, is not
  older, and its database is empty or ours (the steps' marker rules); the container's volumes fit on the host's disk;
- backup: ``mongodump --archive --gzip`` written on the source host (steps/backup.py);
- copy: ``mongodump --archive --gzip`` streamed through the controller into ``mongorestore --drop --noIndexRestore``
  on the primary; the controller reads the archive as it passes (mongodb/archive.py), so the source's half of the
  verification is exactly what was restored, and the indexes are then created from the archive's metadata;
- verification: per collection, the document count and the order-independent digest of the documents' BSON, read back
  from the target with pymongo through ``kubectl port-forward``; and the number of indexes.

MongoDB has no exported snapshot: what the copy reads is the collections as mongodump reads them, one after the other.
Applications writing during the copy make the run's target differ from the source of later reads; the cutover stops
them first. Users of the old server are not copied (the workload's root user is the catalog's).
"""

from __future__ import annotations

import contextlib
import threading

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import transport as pipes
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.interface import Engine, Plan
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.progress import human_bytes
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import LONG, SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import dumps
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.archive import ArchiveError, ArchiveReader
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.sides import ContainerTools, PodTools
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.target_database import TargetDatabase
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import verify as report_tables

CHECKSUM = "checksum"
USERS_NOTE = ("users of the old MongoDB server are not copied: the replica set's root user is the catalog's auth.user "
              "(create application users on the new set yourself)")


class CopyCapture:
    """The archive this run's copy restored, as the controller read it: the source's half of the verification."""

    def __init__(self):
        self.done, self.collections, self.error = threading.Event(), None, None

    def finished(self, collections=None, error=None):
        self.collections, self.error = collections, error
        self.done.set()


def major(version):
    head = str(version or "").split(".", 1)[0]
    return int(head) if head.isdigit() else None


def source_half(collections, level):
    """What the verification compares, from an archive's collections (its views hold no documents: left out)."""
    stored = [c for c in collections.values() if c.kind == "collection" and not c.name.startswith("system.")]
    return {"tables": {c.name: {"rows": c.count, "checksum": c.digest if level == CHECKSUM else None} for c in stored},
            "objects": {"indexes": sum(len(c.indexes()) for c in stored)}}


class MongoEngine(Engine):
    name = "mongodb"
    backup_suffix = ".archive.gz"
    backup_format = "mongodump-archive-gzip"
    unit = "collections"
    index_step = "indexes"
    job_transport = False
    source_side = ContainerTools

    def __init__(self, ctx, source, cluster):
        super().__init__(ctx, source, cluster)
        self._target = PodTools(cluster, ctx.objects["primary_pod"], ctx.objects["container"], ctx.auth_user)
        self.database = TargetDatabase(ctx, cluster, self._target.pod, self._target.label)
        self._copied = None  # the ArchiveReader of this run's copy, while and after it streams

    @property
    def target(self):
        return self._target

    def close(self):
        self.database.close()

    # -- 1. preflight ------------------------------------------------------------------------------

    def inspect(self):
        ctx = self.ctx
        try:
            found = dumps.prelude(self.source, ctx.database)
            self._target.pod = self.database.find_primary()
            self._target.label = self.database.label
            volumes = int(self.source.host_output(self.source.volume_bytes_script()).strip() or 0) * 1024
            target_version = self.database.server_version()
            on_target = self.database.collections()
        except SideError as exc:
            raise MigrationError("%s: %s" % (ctx.label, exc), "preflight") from None
        timeseries = sorted(c.name for c in found.collections.values() if c.kind == "timeseries" or c.name.startswith("system.buckets."))
        if timeseries:
            raise MigrationError("%s: %s holds time-series collections (%s): moving them is not built (mongodump writes their "
                                 "buckets, which this verification cannot compare); move them with mongodump/mongorestore by hand"
                                 % (ctx.label, self.source.label, ", ".join(timeseries)), "preflight")
        if not found.collections:
            raise MigrationError(ctx.field_problem("source.database", ctx.database, "has no collections on %s" % self.source.label,
                                                   "name a database the old server holds (show dbs in mongosh)"), "preflight")
        source_version = (found.header or {}).get("server_version", "")
        if major(target_version) is not None and major(source_version) is not None and major(target_version) < major(source_version):
            raise MigrationError(ctx.field_problem("version", ctx.version, "the target runs MongoDB %s, older than the source's %s"
                                                   % (target_version, source_version), "set version to %s or newer"
                                                   % major(source_version)), "preflight")
        tables = [{"key": c.name, "size_bytes": 0, "rows_estimate": 0} for c in found.collections.values()]
        return Plan(tables=tables, source={"server_version": source_version}, source_version=source_version,
                    target_version=major(target_version), target_exists=bool(on_target),
                    target_content={"collections": len(on_target)}, backup_bytes=volumes,
                    target_fingerprint=self.fingerprint() if on_target else {})

    # -- 2.-4. snapshot, backup, settings --------------------------------------------------------------

    @contextlib.contextmanager
    def snapshot(self):
        yield CopyCapture()

    def backup_command(self, snapshot):
        return self.source.program_words("mongodump", ["--archive", "--gzip"], self.ctx.database)

    def settings(self):
        return {}

    def tune(self):
        pass

    def untune(self, before):
        pass

    # -- 5. the copy ---------------------------------------------------------------------------------

    def copy_globals(self):
        if USERS_NOTE not in self.notes:
            self.notes.append(USERS_NOTE)
        return {}, []

    def create_database(self, plan, copied_globals):
        """The target database dropped when it holds anything (preflight allowed it: ours, or force)."""
        if self.database.collections():
            self.database.drop()

    def copy_schema(self, snapshot, restore=True):
        """mongorestore creates each collection with the options the archive records."""

    def plan_parts(self, plan):
        """One part: the whole database, one archive."""
        return [{"key": self.ctx.database, "table": {"key": self.ctx.database, "collections": plan.tables}, "part": None,
                 "first_block": None, "end_block": None, "size_bytes": 0, "rows_estimate": 0}]

    def copy_table(self, transport, part, snapshot):
        ctx = self.ctx
        if not isinstance(transport, pipes.StreamTransport):
            raise SideError("a MongoDB copy needs the stream transport (the controller reads the archive as it passes)")
        reader = self._copied = ArchiveReader(gzip=True)
        restore = ["--archive", "--gzip", "--drop", "--noIndexRestore", "--stopOnError", "--nsInclude=%s.*" % ctx.database,
                   "--numParallelCollections=%d" % ctx.jobs]
        collections = None
        try:
            transport.pipe(("mongodump", ["--archive", "--gzip"], ctx.database), ("mongorestore", restore, None), observe=reader.feed)
            collections = reader.finish()
        except ArchiveError as exc:
            raise SideError("%s: the archive mongodump wrote could not be read: %s" % (self.source.label, exc)) from None
        finally:
            if isinstance(snapshot, CopyCapture):
                snapshot.finished(collections, None if collections is not None else "%s: the copy did not finish" % ctx.label)
        self.record_sizes(part["table"]["collections"], collections)

    @staticmethod
    def record_sizes(tables, collections):
        """The plan's collections as the copy found them (documents and their bytes), with any created since preflight."""
        by_name = {table["key"]: table for table in tables}
        for collection in collections.values():
            table = by_name.get(collection.name)
            if table is None:
                table = {"key": collection.name}
                tables.append(table)
            table.update(size_bytes=collection.bytes, rows_estimate=collection.count)

    def copy_progress(self):
        return {}

    def progress_text(self):
        """Collections finished and documents (with their bytes) restored so far."""
        if self._copied is None:
            return "starting mongodump"
        collections = list(self._copied.collections.values())
        finished = sum(1 for c in collections if c.complete)
        documents, size = sum(c.count for c in collections), human_bytes(sum(c.bytes for c in collections))
        return "%d/%d collections, %d documents (%s)" % (finished, len(collections), documents, size)

    def copy_sequences(self, snapshot):
        """MongoDB has no sequences."""

    def build_indexes(self):
        """The archive's indexes, created per collection with one createIndexes each."""
        if self._copied is not None:
            self.database.create_indexes(self._copied.collections)

    # -- 8. verification ---------------------------------------------------------------------------

    def verify_source(self, level, snapshot):
        """The copy's own archive when this run copied; else a dump read through (nothing restored)."""
        if isinstance(snapshot, CopyCapture):
            snapshot.done.wait()  # the copy sets it on every path, when it ends by its own deadline too
            if snapshot.error:
                raise SideError(snapshot.error)
            return source_half(snapshot.collections, level)
        return source_half(dumps.whole(self.source, self.ctx.database, self.ctx.options.timeout or LONG), level)

    def verify_target(self, level):
        return self.database.verification_half(level == CHECKSUM)

    def compare(self, source_half, target_half, level):
        return report_tables.compare(source_half, target_half, [], level)

    def markdown(self, report, title):
        return report_tables.markdown(report, title)

    def fingerprint(self):
        """dbHash's hashes (or the documents' digests) per collection: any write to the target changes it."""
        try:
            return self.database.fingerprint()
        except SideError:
            return {}

    # -- what a MongoDB copy does not have ------------------------------------------------------------

    def source_database_names(self):
        raise MigrationError("%s: source.databases is for PostgreSQL sources; name one database in source.database"
                             % self.ctx.label, "preflight")

    def reach_script(self, candidates):
        raise MigrationError("%s: a MongoDB copy has no job transport" % self.ctx.label, "transport")

    def job_sides(self, cluster, pod, address):
        raise MigrationError("%s: a MongoDB copy has no job transport" % self.ctx.label, "transport")
