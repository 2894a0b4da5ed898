# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog fields only MongoDB workloads have - the replica set's name and keyFile - and their rules."""

from __future__ import annotations

import re

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import syntax
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.errors import MISSING
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.field import Field

MONGODB = ("mongodb",)
MEMBER_COUNTS = (1, 3, 5, 7)
_SET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NOT_IN_DATABASE_NAMES = re.compile(r'[/\\. "$*<>:|?\x00]')
SYSTEM_DATABASES = ("admin", "config", "local")
SECRET_KEY_FIX = "use letters, digits, '-', '_' and '.' (at least one letter or digit)"


def replica_set_name(value, workload):
    """replica set name (letters, digits, '_', '-'; at most 64)"""
    if not isinstance(value, str) or not _SET_NAME.match(value):
        return "is not a replica set name MongoDB and the connection strings of clients take as they are"
    return None


def member_count(workload):
    """A replica set has an odd number of members, 1 to 7: with 2 (or 4, 6) losing one member leaves no majority more
    often than it adds safety, and a failure of either of 2 stops every write."""
    replicas = workload.get("replicas")
    if workload.get("engine") != "mongodb" or not isinstance(replicas, int) or isinstance(replicas, bool):
        return
    if replicas not in MEMBER_COUNTS:
        why = ("has no majority after a failure: with %d members a primary needs %d, so losing %s stops every write"
               % (replicas, replicas // 2 + 1, "either" if replicas == 2 else "half of them"))
        if replicas > max(MEMBER_COUNTS):
            why = "is more members than a replica set may have voting (7)"
        yield ("replicas", replicas, why, "use 1, 3, 5 or 7 (an odd number keeps a majority when one member is lost)")


def live_secrets_not_rotated(workload):
    """The root password and the keyFile of a MongoDB workload are not rotated: mongod keeps the user and keyFile it
    started with, so a rotated Secret would lock the clients (and the members) out."""
    if workload.get("engine") != "mongodb" or not isinstance(workload.get("secrets"), dict):
        return
    auth = workload.get("auth") if isinstance(workload.get("auth"), dict) else {}
    secret = workload["secrets"].get(auth.get("secret", "%s-secrets" % workload.get("name")))
    for key in (auth.get("password_key", "mongodb-root-password"), auth.get("keyfile_key", "mongodb-keyfile")):
        spec = secret.get(key) if isinstance(secret, dict) else None
        if isinstance(spec, dict) and spec.get("rotate") is True:
            yield ("secrets.%s.rotate" % key, True, "is not built for MongoDB: the Secret would change while mongod keeps the password "
                   "and keyFile it started with, locking the clients and members out", "remove rotate: true for this key")


def source_is_a_container(workload):
    """A MongoDB source is one database of a container on an inventory host (mongodump runs in it), copied offline."""
    source = workload.get("source")
    if workload.get("engine") != "mongodb" or not isinstance(source, dict):
        return
    for required in ("host", "container", "database"):
        if not source.get(required):
            yield ("source.%s" % required, source.get(required, MISSING), "is required",
                   "set the inventory host that runs Docker, the old server's container ('docker ps') and the database to move")
    migration = workload.get("migration") if isinstance(workload.get("migration"), dict) else {}
    if migration.get("mode", "offline") != "offline":
        yield ("migration.mode", migration["mode"], "is PostgreSQL-only: a MongoDB database is copied offline (mongodump, "
               "mongorestore)", "set migration.mode: offline, and stop the application at cutover")
    if migration.get("transport") == "job":
        yield ("migration.transport", "job", "a MongoDB copy streams through the controller, which reads the archive to "
               "verify it", "set migration.transport to auto or stream")


def database_name(value):
    """Why ``value`` is not a database MongoDB lets an application use, or None."""
    if not isinstance(value, str) or not value or len(value) >= 64 or _NOT_IN_DATABASE_NAMES.search(value):
        return "is not a MongoDB database name (1 to 63 characters, none of /\\. \"$*<>:|?)"
    if value in SYSTEM_DATABASES:
        return "is one of MongoDB's own databases (%s), which are not moved" % ", ".join(SYSTEM_DATABASES)
    return None


FIELDS = (
    Field("replica_set", "str", "Name of the replica set (mongod --replSet; clients name it in replicaSet=). A live set is never "
          "renamed: changing it is refused by the databases phase.", default="rs0", engines=MONGODB, rule=replica_set_name,
          fix="use letters, digits, '_' and '-' (at most 64), e.g. rs0"),
    Field("auth.keyfile_key", "str", "Key of the replica set's keyFile in auth.secret (the members authenticate each other with it; "
          "6 to 1024 base64 characters, e.g. generate: hex32 in secrets).", default="mongodb-keyfile", engines=MONGODB,
          rule=syntax.secret_key, fix=SECRET_KEY_FIX),
)
