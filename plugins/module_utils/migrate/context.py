# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one migration run is about, frozen: one validated catalog workload and the run's options.

Built from the workload that ``catalog.validate.validate_catalog`` returns, with its defaults filled in:
a key missing there is a catalog bug and raises KeyError here; nothing is defaulted a second time.
"""

from __future__ import annotations

import dataclasses
import types

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import names
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.errors import MISSING, field_error, workload_label

MOVED_BY = {"postgresql": "stateshift.k3s.pg_migrate", "mongodb": "stateshift.k3s.mongo_migrate",
            "rabbitmq": "stateshift.k3s.rabbitmq_migrate (topology) and rabbitmq_drain (messages)"}


class CatalogLookupError(Exception):
    """The catalog fact is missing, or does not hold the workload asked for."""


@dataclasses.dataclass(frozen=True)
class Source:
    """The catalog's ``source``: a container on an inventory host, or a connection string."""

    host: str | None
    container: str | None
    database: str | None
    user: str | None
    password: str | None = dataclasses.field(repr=False)
    dsn: str | None = dataclasses.field(repr=False)
    address: str | None
    sslmode: str | None = None  # PostgreSQL sources only (the catalog fills them in for those)
    require_auth: str | None = None
    databases: tuple | str | None = None  # source.databases: "all", the names, or None (source.database only)
    patroni_members: tuple | None = None  # source.patroni_members: the containers of a Patroni cluster (instead of container)

    def network_env(self, libpq_major):
        """libpq's environment for a connection over the network: sslmode, and require_auth where libpq has it (16+)."""
        env = {"PGSSLMODE": self.sslmode}
        if libpq_major is not None and libpq_major >= 16:
            env["PGREQUIREAUTH"] = self.require_auth
        return env


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The module's own options: how this run goes, not what it migrates."""

    check_mode: bool
    force: bool
    report_dir: str | None
    progress_interval: float | None
    timeout: int | None
    restore_settings: types.MappingProxyType | None
    kubectl_bin: str
    connection: types.MappingProxyType


@dataclasses.dataclass(frozen=True)
class MigrationContext:
    workload: str
    index: int
    engine: str
    version: str
    namespace: str
    image: str
    database: str
    source: Source
    auth_user: str
    auth_secret: str
    auth_password_key: str
    mode: str
    jobs: int
    part_bytes: int
    verify: str
    force: bool
    transport: str
    backup: bool
    backup_dir: str
    keep_privileged_roles: bool
    objects: types.MappingProxyType
    options: RunOptions
    # ha: patroni: the labels of the pod that takes writes, which moves at a failover (else objects.primary_pod)
    leader_selector: types.MappingProxyType | None = None

    @property
    def label(self):
        return "%s/%s" % (self.workload, self.database)

    @property
    def app(self):
        return self.objects["app"]

    def field_problem(self, field, value, problem, fix):
        """``workload 'x' (stateshift_workloads[i]): field = value: problem; fix``."""
        return field_error(workload_label(self.workload, self.index), field, value, problem, fix)


def run_options(args, check_mode, connection):
    """RunOptions from an action's validated arguments (options a module does not declare are None)."""
    settings = args.get("restore_settings")
    return RunOptions(check_mode=bool(check_mode), force=bool(args.get("force")), report_dir=args.get("report_dir"),
                      progress_interval=args.get("progress_interval"), timeout=args.get("timeout"),
                      restore_settings=types.MappingProxyType(dict(settings)) if settings else None,
                      kubectl_bin=args["kubectl_bin"], connection=types.MappingProxyType(dict(connection)))


def find_workload(catalog, name):
    """(index, workload) of the workload called ``name`` in the validated catalog."""
    if catalog is None:
        raise CatalogLookupError("the fact stateshift_catalog is not set: run stateshift.k3s.validate_catalog earlier in the play "
                                 "(the migrate playbook does)")
    for index, workload in enumerate(catalog):
        if workload.get("name") == name:
            return index, workload
    known = ", ".join(str(w.get("name")) for w in catalog) or "none"
    raise CatalogLookupError("workload %r is not in the catalog (stateshift_catalog has: %s): check the workload option "
                             "or add the workload to stateshift_workloads" % (name, known))


def build(catalog, name, options, database=None, engines=("postgresql",), secrets=None):
    """The MigrationContext of workload ``name``; ``database`` overrides the workload's source.database; ``engines``: those
    the calling module moves (an engine of run.ENGINES each); ``secrets``: credentials.source_secrets() (the fact holds none)."""
    index, workload = find_workload(catalog, name)
    if workload["engine"] not in engines:
        raise CatalogLookupError(field_error(workload_label(name, index), "engine", workload["engine"],
                                             "this migration handles %s workloads only" % ", ".join(engines),
                                             "move it with its engine's module: %s" % MOVED_BY.get(workload["engine"], "none is built")))
    if workload.get("ha") == "cloudnative-pg":
        raise CatalogLookupError(field_error(workload_label(name, index), "ha", workload["ha"], "imports its source at bootstrap: "
                                             "the CloudNativePG operator copies it when the databases phase creates the Cluster",
                                             "run the databases phase; this migration copies into a single server or ha: patroni"))
    if not workload.get("source"):
        raise CatalogLookupError(field_error(workload_label(name, index), "source", MISSING, "is not set, so there is nothing to migrate",
                                             "set source.host, source.container and source.database (or source.dsn)"))
    source, migration, auth = workload["source"], workload["migration"], workload["auth"]
    secrets = secrets or {}
    return MigrationContext(
        workload=workload["name"], index=index, engine=workload["engine"], version=str(workload["version"]),
        namespace=workload["namespace"], image=workload["image"], database=database or source["database"],
        source=Source(host=source.get("host"), container=source.get("container"), database=source.get("database"),
                      user=source.get("user"), password=secrets.get("password"), dsn=secrets.get("dsn") or source.get("dsn"),
                      address=source.get("address"), sslmode=source.get("sslmode"), require_auth=source.get("require_auth"),
                      databases=_databases(source.get("databases")),
                      patroni_members=tuple(source["patroni_members"]) if source.get("patroni_members") else None),
        auth_user=auth["user"], auth_secret=auth["secret"], auth_password_key=auth["password_key"],
        mode=migration["mode"], jobs=migration["jobs"], part_bytes=migration["table_part_mib"] << 20, verify=migration["verify"],
        force=options.force, transport=migration["transport"], backup=migration["backup"],
        backup_dir=migration["backup_dir"], keep_privileged_roles=migration["keep_privileged_roles"],
        objects=types.MappingProxyType(dict(workload.get("objects") or names.object_names(workload))),
        options=options, leader_selector=_leader_selector(workload))


def _leader_selector(workload):
    if workload.get("ha") != "patroni":
        return None
    return types.MappingProxyType(dict(workload["selector"], role="primary"))


def _databases(value):
    return tuple(value) if isinstance(value, list) else value


def catalog_fact(task_vars):
    """The validated catalog set by stateshift.k3s.validate_catalog (the fact stateshift_catalog), or None."""
    facts = task_vars.get("ansible_facts") or {}
    return facts.get("stateshift_catalog", task_vars.get("stateshift_catalog"))
