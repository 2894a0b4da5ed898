# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog fields of a PostgreSQL workload run as a Patroni cluster (``ha: patroni``), and their rules."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import syntax
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.errors import MISSING
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.field import Field

POSTGRESQL = ("postgresql",)
PATRONI, CLOUDNATIVE_PG = "patroni", "cloudnative-pg"
SECRET_KEY_FIX = "use letters, digits, '-', '_' and '.' (at least one letter or digit)"
PATRONI_IMAGE_FIX = ("set image: to an image with PostgreSQL and Patroni 4 whose command 'patroni' is on PATH (the lab builds "
                     "stateshift-lab/patroni:15 from tests/lab/docker/patroni)")


def is_patroni(workload):
    return workload.get("engine") == "postgresql" and workload.get("ha") == PATRONI


def password_keys(workload):
    """[(field, Secret key)] of the passwords a Patroni cluster reads beside the superuser's; [] without ha: patroni."""
    if not is_patroni(workload):
        return []
    auth = workload.get("auth") if isinstance(workload.get("auth"), dict) else {}
    return [("auth.%s" % name, auth.get(name, default)) for name, default in KEY_DEFAULTS.items()]


def patroni_members(value, workload):
    """Docker container names, at least two, each once"""
    if not value or len(value) < 2:
        return "must list the cluster's member containers (two or more)"
    bad = [name for name in value if syntax.container_name(name, workload)]
    if bad:
        return "names containers Docker cannot have: %s" % ", ".join(map(str, bad))
    return "lists %s twice" % next(n for n in value if value.count(n) > 1) if len(set(value)) < len(value) else None


def is_cloudnative_pg(workload):
    return workload.get("engine") == "postgresql" and workload.get("ha") == CLOUDNATIVE_PG


def image_given(workload):
    """ha: patroni runs the command patroni, and CloudNativePG its own operand images: the default postgres image fits neither."""
    if is_patroni(workload) and "image" not in workload:
        yield ("image", MISSING, "must be given with ha: patroni: the default postgres image has no Patroni", PATRONI_IMAGE_FIX)
    if is_cloudnative_pg(workload) and "image" not in workload:
        yield ("image", MISSING, "must be given with ha: cloudnative-pg: the operator runs its own operand images",
               "set image: to a CloudNativePG operand image, e.g. ghcr.io/cloudnative-pg/postgresql:15")


# What the single server and Patroni do that a CloudNativePG Cluster leaves to the operator's own resources: refused
# rather than ignored. (field, given?, why, fix)
_CNPG_REFUSED = (
    ("roles", lambda w: bool(w.get("roles")), "are not created in a CloudNativePG Cluster by this collection",
     "declare them in the Cluster's managed roles (spec.managed.roles) yourself, or use ha: patroni"),
    ("databases", lambda w: isinstance(w.get("databases"), list) and len(w["databases"]) > 1,
     "lists more than one database: a CloudNativePG Cluster is bootstrapped with one (its initdb database)",
     "keep one, and make the others with CloudNativePG's Database resources, or use ha: patroni"),
    ("backup", lambda w: bool(w.get("backup")), "is the operator's with ha: cloudnative-pg (no backup CronJob is made)",
     "remove it and configure the Cluster's backup (barman) and ScheduledBackup, or use ha: patroni"),
    ("network", lambda w: bool(w.get("network")), "is not applied to a CloudNativePG Cluster (its pods need the operator's "
     "access, which a policy of this collection would not know)", "remove it and write the Cluster's NetworkPolicy yourself"),
    ("source.dsn", lambda w: bool((w.get("source") or {}).get("dsn")), "cannot be imported by CloudNativePG from here",
     "describe the source by host, container, address and password"),
)


def cloudnative_pg_fields(workload):
    """A CloudNativePG Cluster: what it does not take is refused, and an import needs the source's address and password."""
    if not is_cloudnative_pg(workload):
        return
    for field, given, why, fix in _CNPG_REFUSED:
        if given(workload):
            yield (field, MISSING if field != "databases" else workload[field], why, fix)
    source = workload.get("source") if isinstance(workload.get("source"), dict) else None
    if source and not source.get("dsn"):
        for name, fix in (("address", "give host:port at which the cluster's pods reach the source, e.g. 192.0.2.10:5432"),
                          ("password", "give the source user's password: the operator's import logs in with it")):
            if not source.get(name):
                yield ("source.%s" % name, MISSING, "is required with ha: cloudnative-pg (the operator imports the source "
                       "at bootstrap)", fix)


def distinct_keys(workload):
    """The three passwords of a Patroni cluster are three keys: a shared one would give replication the superuser's."""
    keys = password_keys(workload)
    if not keys:
        return
    auth = workload.get("auth") if isinstance(workload.get("auth"), dict) else {}
    seen = {auth.get("password_key", "postgres-password"): "auth.password_key"}
    for field, key in keys:
        if key in seen:
            yield (field, key, "is also %s" % seen[key], "give each of the cluster's three users its own key")
        seen.setdefault(key, field)


KEY_DEFAULTS = {"replication_password_key": "replication-password", "rewind_password_key": "rewind-password"}

FIELDS = (
    Field("ha", "str", "High availability: none (one server); patroni (a Patroni cluster of replicas members, the Kubernetes API "
          "its store: one leader the client Service selects, streaming replicas, synchronous commit to one of them; needs image: "
          "with Patroni); cloudnative-pg (a CloudNativePG Cluster that imports the source at bootstrap; the operator must run "
          "in the cluster). See roles/postgresql/README.md.", default="none", choices=("none", PATRONI, CLOUDNATIVE_PG),
          engines=POSTGRESQL, fix="use ha: patroni or ha: cloudnative-pg, or leave ha out for one server"),
    Field("auth.replication_password_key", "str", "ha: patroni only: key in auth.secret of the password of the replication user "
          "(replicator) the replicas stream as.", default=KEY_DEFAULTS["replication_password_key"], engines=POSTGRESQL,
          rule=syntax.secret_key, fix=SECRET_KEY_FIX),
    Field("source.patroni_members", "list", "A source run by Patroni in Docker (the gardenos runbook's): its member containers on "
          "source.host, instead of source.container. The migration asks each member's Patroni (GET /patroni on port 8008, with "
          "the container's python3) and reads from the one that leads, never a replica; no leader, or more than one, stops it "
          "before anything is read.", elements="str", engines=POSTGRESQL, rule=patroni_members,
          fix="list the member containers as 'docker ps' names them, e.g. [gardenos-postgres-1, gardenos-postgres-2]"),
    Field("auth.rewind_password_key", "str", "ha: patroni only: key in auth.secret of the password of the user pg_rewind connects "
          "as (rewinder) when a former leader rejoins.", default=KEY_DEFAULTS["rewind_password_key"], engines=POSTGRESQL,
          rule=syntax.secret_key, fix=SECRET_KEY_FIX),
)

RULES = (image_given, distinct_keys, cloudnative_pg_fields)
