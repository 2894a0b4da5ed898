# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workload catalog: validate every workload before any phase changes anything.

`validate_catalog()` returns the catalog with defaults filled in, or raises CatalogError with
every problem found (not just the first), each naming the workload, the field, the bad value and
the fix.
"""

from __future__ import annotations

import copy
import difflib
import re

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.quantity import is_quantity, parse_quantity

ENGINES = ("postgresql", "mongodb", "rabbitmq")
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")
CLIENT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
MIGRATION_MODES = ("offline", "online")
VERIFY_LEVELS = ("checksum", "count", "none")
DEFAULT_IMAGES = {"postgresql": "postgres:{version}-alpine", "mongodb": "mongo:{version}", "rabbitmq": "rabbitmq:{version}-management"}
DEFAULT_VERSIONS = {"postgresql": "18", "mongodb": "7", "rabbitmq": "3"}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?]+$")

# field name -> (required, description of what it is) for every mapping the catalog allows.
WORKLOAD_FIELDS = ("name", "namespace", "engine", "version", "image", "pod_security", "replicas", "storage",
                   "resources", "databases", "roles", "auth", "settings", "secrets", "source", "migration",
                   "backup", "clients", "network", "retire")
FIELDS = {
    "storage": ("class", "size"),
    "resources": ("requests", "limits"),
    "resources.requests": ("cpu", "memory"),
    "resources.limits": ("cpu", "memory"),
    "auth": ("secret", "user", "password_key"),
    "source": ("host", "container", "database", "user", "password", "compose_dir", "dsn", "port", "address"),
    "migration": ("mode", "jobs", "verify", "force", "transport", "backup", "backup_dir", "keep_privileged_roles"),
    "backup": ("schedule", "retention_days", "pvc_size", "storage_class"),
    "network": ("allow_from",),
    "network.allow_from": ("namespace", "pod_labels", "namespace_labels"),
    "clients": ("kind", "name", "namespace"),
    "databases": ("name", "owner"),
    "roles": ("name", "password_key", "login", "createdb"),
    "retire": ("soak_days",),
}


class CatalogError(Exception):
    """The catalog is invalid; `errors` lists every problem, one line each."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("the workload catalog has %d problem(s):\n- %s" % (len(self.errors), "\n- ".join(self.errors)))


class _Checker:
    def __init__(self, label):
        self.label = label
        self.errors = []

    def error(self, field, value, problem, fix):
        shown = "" if value is _MISSING else " = %r" % (value,)
        self.errors.append("%s: %s%s: %s; %s" % (self.label, field, shown, problem, fix))

    def mapping(self, value, field, allowed):
        if not isinstance(value, dict):
            self.error(field, value, "must be a mapping", "write it as 'key: value' pairs")
            return {}
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                fix = "did you mean '%s'?" % hint[0] if hint else "allowed: %s" % ", ".join(allowed)
                self.error("%s.%s" % (field, key) if field else key, _MISSING, "unknown field", fix)
        return value

    def one_of(self, value, field, choices):
        if value not in choices:
            self.error(field, value, "is not one of %s" % ", ".join(choices), "use one of them")
            return False
        return True

    def integer(self, value, field, minimum, maximum=None):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
            bounds = "%d or more" % minimum if maximum is None else "from %d to %d" % (minimum, maximum)
            self.error(field, value, "must be a whole number %s" % bounds, "set a number %s" % bounds)
            return False
        return True

    def quantity(self, value, field, example):
        if not is_quantity(value):
            self.error(field, value, "is not a Kubernetes quantity", "write it like %s" % example)
            return False
        return True

    def dns_label(self, value, field):
        if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.match(value):
            self.error(field, value, "is not a DNS-1123 label",
                       "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit")
            return False
        return True


_MISSING = object()


def _check_storage(check, storage):
    storage = check.mapping(storage, "storage", FIELDS["storage"])
    if "size" not in storage:
        check.error("storage.size", _MISSING, "is required", "set the volume size, e.g. size: 10Gi")
    elif check.quantity(storage["size"], "storage.size", "10Gi") and parse_quantity(storage["size"]) < 2 ** 20:
        check.error("storage.size", storage["size"], "is smaller than 1Mi (a unit is probably missing)", "write it like 10Gi")
    if storage.get("class") is not None and not (isinstance(storage["class"], str) and _DNS_SUBDOMAIN.match(storage["class"])):
        check.error("storage.class", storage["class"], "is not a StorageClass name", "use the name shown by 'kubectl get storageclass'")


def _check_resources(check, resources):
    resources = check.mapping(resources, "resources", FIELDS["resources"])
    for part in ("requests", "limits"):
        if part in resources:
            section = check.mapping(resources[part], "resources." + part, FIELDS["resources." + part])
            if "cpu" in section:
                check.quantity(section["cpu"], "resources.%s.cpu" % part, "250m or 1")
            if "memory" in section:
                check.quantity(section["memory"], "resources.%s.memory" % part, "512Mi")
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    for kind in ("cpu", "memory"):
        if is_quantity(requests.get(kind, "x")) and is_quantity(limits.get(kind, "x")) \
                and parse_quantity(requests[kind]) > parse_quantity(limits[kind]):
            check.error("resources.requests.%s" % kind, requests[kind], "is above its limit %s" % limits[kind],
                        "lower the request or raise the limit")


def _named_list(check, items, field, name_pattern, what):
    """databases/roles: a list of names or of {name: ...} mappings; returns the normalized list."""
    if not isinstance(items, list):
        check.error(field, items, "must be a list", "write a YAML list of %s" % what)
        return []
    normalized, seen = [], set()
    for index, item in enumerate(items):
        where = "%s[%d]" % (field, index)
        entry = dict(name=item) if isinstance(item, str) else check.mapping(item, where, FIELDS[field])
        name = entry.get("name")
        if not isinstance(name, str) or not name_pattern.match(name):
            check.error(where + ".name", name, "is not a valid PostgreSQL identifier",
                        "use lower-case letters, digits and '_' (at most 63), starting with a letter or '_'")
        elif name in seen:
            check.error(where + ".name", name, "is listed twice", "remove the duplicate")
        seen.add(name)
        normalized.append(entry)
    return normalized


def _check_source(check, source, engine):
    source = check.mapping(source, "source", FIELDS["source"])
    if "dsn" in source:
        return
    for required in ("host", "container", "database"):
        if not source.get(required):
            check.error("source.%s" % required, _MISSING, "is required",
                        "set the inventory host, the container name and the database (or a dsn for a direct connection)")
    if engine == "postgresql" and source.get("database") and not _PG_IDENTIFIER.match(str(source["database"])):
        check.error("source.database", source["database"], "is not a PostgreSQL database name", "use the name shown by \\l in psql")


def _check_migration(check, migration):
    migration = check.mapping(migration, "migration", FIELDS["migration"])
    if "mode" in migration:
        check.one_of(migration["mode"], "migration.mode", MIGRATION_MODES)
    if "jobs" in migration:
        check.integer(migration["jobs"], "migration.jobs", 1, 64)
    if "verify" in migration:
        check.one_of(migration["verify"], "migration.verify", VERIFY_LEVELS)
    if "transport" in migration:
        check.one_of(migration["transport"], "migration.transport", ("auto", "job", "stream"))
    for flag in ("force", "backup", "keep_privileged_roles"):
        if flag in migration and not isinstance(migration[flag], bool):
            check.error("migration." + flag, migration[flag], "must be true or false", "write %s: true or %s: false" % (flag, flag))
    if "backup_dir" in migration and not str(migration["backup_dir"]).startswith("/"):
        check.error("migration.backup_dir", migration["backup_dir"], "is not an absolute path",
                    "give a directory on the source host, like /var/backups/stateshift")


def _check_backup(check, backup):
    backup = check.mapping(backup, "backup", FIELDS["backup"])
    schedule = backup.get("schedule")
    if schedule is not None and not (isinstance(schedule, str) and (schedule.startswith("@") or (
            len(schedule.split()) == 5 and all(_CRON_FIELD.match(f) for f in schedule.split())))):
        check.error("backup.schedule", schedule, "is not a cron schedule", "use five fields, e.g. '0 8 * * *', or @daily")
    if "retention_days" in backup:
        check.integer(backup["retention_days"], "backup.retention_days", 1)
    if "pvc_size" in backup:
        check.quantity(backup["pvc_size"], "backup.pvc_size", "20Gi")


def _check_clients(check, clients):
    if not isinstance(clients, list):
        check.error("clients", clients, "must be a list", "list the workloads that use this database: [{kind: Deployment, name: app}]")
        return
    for index, client in enumerate(clients):
        where = "clients[%d]" % index
        client = check.mapping(client, where, FIELDS["clients"])
        check.one_of(client.get("kind", "Deployment"), where + ".kind", CLIENT_KINDS)
        if not client.get("name"):
            check.error(where + ".name", _MISSING, "is required", "name the %s" % client.get("kind", "Deployment"))


def _check_network(check, network):
    network = check.mapping(network, "network", FIELDS["network"])
    allow = network.get("allow_from", [])
    if not isinstance(allow, list):
        check.error("network.allow_from", allow, "must be a list", "list the namespaces or pod labels allowed to connect")
        return
    for index, rule in enumerate(allow):
        rule = check.mapping(rule, "network.allow_from[%d]" % index, FIELDS["network.allow_from"])
        if not rule:
            check.error("network.allow_from[%d]" % index, rule, "is empty", "set namespace, namespace_labels or pod_labels")


def _check_secrets(check, workload):
    secrets = workload.get("secrets", {})
    if not isinstance(secrets, dict):
        check.error("secrets", secrets, "must be a mapping", "write Secret name -> key -> source")
        return
    try:
        from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.spec import validate_secrets  # noqa: PLC0415
    except ImportError:
        validate_secrets = None
    if validate_secrets is not None:
        check.errors.extend(validate_secrets(workload.get("name"), secrets))
    if not secrets:
        return  # Secrets made outside the catalog: the database role checks them when it runs.
    auth = check.mapping(workload.get("auth") or {}, "auth", FIELDS["auth"])
    secret = auth.get("secret", "%s-secrets" % workload.get("name"))
    needed = [("auth.password_key", auth.get("password_key", "postgres-password"))] if workload.get("engine") == "postgresql" else []
    needed += [("roles[%d].password_key" % index, role["password_key"]) for index, role in enumerate(workload.get("roles") or [])
               if isinstance(role, dict) and role.get("password_key")]
    for field, key in needed:
        if key not in (secrets.get(secret) or {}):
            check.error(field, key, "refers to Secret key %s/%s that is not declared under secrets" % (secret, key),
                        "declare it under secrets.%s.%s (with an op reference or generate)" % (secret, key))


def _check_engine_rules(check, workload):
    engine = workload.get("engine")
    if engine == "postgresql" and isinstance(workload.get("replicas"), int) and workload["replicas"] > 1:
        check.error("replicas", workload["replicas"],
                    "a PostgreSQL StatefulSet without a high-availability manager would run that many independent primaries "
                    "with diverging data", "set replicas: 1 (high availability is a separate capability)")
    if engine != "postgresql":
        for field in ("databases", "roles"):
            if field in workload:
                check.error(field, workload[field], "is only used by the postgresql engine", "remove it")


def _defaults(workload):
    engine = workload["engine"]
    version = str(workload.get("version", DEFAULT_VERSIONS.get(engine, "")))
    filled = copy.deepcopy(workload)
    filled["version"] = version
    filled.setdefault("namespace", workload["name"])
    filled.setdefault("image", DEFAULT_IMAGES[engine].format(version=version))
    filled.setdefault("pod_security", "baseline")
    filled.setdefault("replicas", 1)
    filled.setdefault("resources", {})
    filled.setdefault("secrets", {})
    filled.setdefault("clients", [])
    filled.setdefault("settings", {})
    filled["storage"] = dict({"class": None}, **filled.get("storage", {}))
    filled["migration"] = dict({"mode": "offline", "jobs": 2, "verify": "checksum", "force": False, "transport": "auto",
                                "backup": True, "backup_dir": "/var/backups/stateshift", "keep_privileged_roles": False},
                               **filled.get("migration", {}))
    filled["network"] = dict({"allow_from": []}, **filled.get("network", {}))
    filled["retire"] = dict({"soak_days": 7}, **filled.get("retire", {}))
    if engine == "postgresql":
        filled["auth"] = dict({"user": filled["name"], "secret": "%s-secrets" % filled["name"], "password_key": "postgres-password"},
                              **filled.get("auth", {}))
        filled["backup"] = dict({"schedule": "0 3 * * *", "retention_days": 7, "pvc_size": filled["storage"]["size"],
                                 "storage_class": filled["storage"]["class"]}, **filled.get("backup", {}))
        filled["databases"] = [dict(name=d) if isinstance(d, str) else d
                               for d in filled.get("databases") or [filled["name"].replace("-", "_")]]
        filled["roles"] = [dict(name=r) if isinstance(r, str) else r for r in filled.get("roles", [])]
    for client in filled["clients"]:
        client.setdefault("kind", "Deployment")
        client.setdefault("namespace", filled["namespace"])
    return filled


def _check_workload(index, workload):
    name = workload.get("name") if isinstance(workload, dict) else None
    check = _Checker("workload %r (stateshift_workloads[%d])" % (name, index) if name else "stateshift_workloads[%d]" % index)
    if not isinstance(workload, dict):
        check.error("", workload, "is not a mapping", "each workload is a mapping with at least name, engine and storage")
        return check.errors
    check.mapping(workload, "", WORKLOAD_FIELDS)
    if "name" not in workload:
        check.error("name", _MISSING, "is required", "name the workload (a DNS-1123 label, it prefixes every object)")
    else:
        check.dns_label(workload["name"], "name")
    if "namespace" in workload:
        check.dns_label(workload["namespace"], "namespace")
    if "engine" not in workload:
        check.error("engine", _MISSING, "is required", "set engine to one of %s" % ", ".join(ENGINES))
    else:
        check.one_of(workload["engine"], "engine", ENGINES)
    if "pod_security" in workload:
        check.one_of(workload["pod_security"], "pod_security", POD_SECURITY_LEVELS)
    if "replicas" in workload:
        check.integer(workload["replicas"], "replicas", 1)
    if "storage" not in workload:
        check.error("storage", _MISSING, "is required", "set storage: {size: 10Gi} (and class: unless the default StorageClass fits)")
    else:
        _check_storage(check, workload["storage"])
    if "resources" in workload:
        _check_resources(check, workload["resources"])
    for field in ("databases", "roles"):
        if field in workload:
            _named_list(check, workload[field], field, _PG_IDENTIFIER, field)
    if "settings" in workload and not isinstance(workload["settings"], dict):
        check.error("settings", workload["settings"], "must be a mapping", "write server settings as name: value")
    if "source" in workload:
        _check_source(check, workload["source"], workload.get("engine"))
    if "migration" in workload:
        _check_migration(check, workload["migration"])
    if "backup" in workload:
        _check_backup(check, workload["backup"])
    if "clients" in workload:
        _check_clients(check, workload["clients"])
    if "network" in workload:
        _check_network(check, workload["network"])
    if "retire" in workload:
        retire = check.mapping(workload["retire"], "retire", FIELDS["retire"])
        if "soak_days" in retire:
            check.integer(retire["soak_days"], "retire.soak_days", 0)
    _check_secrets(check, workload)
    _check_engine_rules(check, workload)
    return check.errors


def _check_across(workloads):
    errors, owners, secret_keys = [], {}, {}
    for index, workload in enumerate(workloads):
        key = (workload["namespace"], workload["name"])
        if key in owners:
            errors.append("workload %r (stateshift_workloads[%d]): name = %r: namespace/name %s/%s is already used by "
                          "stateshift_workloads[%d]; give each workload its own name or namespace"
                          % (workload["name"], index, workload["name"], key[0], key[1], owners[key]))
        owners.setdefault(key, index)
        for secret, keys in (workload.get("secrets") or {}).items():
            for secret_key, source in (keys or {}).items():
                where = (workload["namespace"], secret, secret_key)
                if where in secret_keys and secret_keys[where][1] != source:
                    errors.append("workload %r (stateshift_workloads[%d]): secrets.%s.%s: Secret %s/%s key %s is declared "
                                  "differently by workload %r; declare it once or make both declarations identical"
                                  % (workload["name"], index, secret, secret_key, where[0], secret, secret_key,
                                     secret_keys[where][0]))
                secret_keys.setdefault(where, (workload["name"], source))
    return errors


def validate_catalog(workloads):
    """Validate every workload, then the catalog as a whole; return it with defaults filled in."""
    if not isinstance(workloads, list):
        raise CatalogError(["stateshift_workloads: must be a list of workloads, got %s" % type(workloads).__name__])
    errors = []
    for index, workload in enumerate(workloads):
        errors.extend(_check_workload(index, workload))
    if errors:
        raise CatalogError(errors)
    filled = [_defaults(workload) for workload in workloads]
    errors = _check_across(filled)
    if errors:
        raise CatalogError(errors)
    return filled
