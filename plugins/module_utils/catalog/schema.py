# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workload catalog, declared once: every field, its type, default, choices, engines and rule.

Validation and defaults (validate.py), docs/catalog.md (docs.py) and the roles' argument specs
(argspec.py) are all made from FIELDS; nothing else spells a field's choices or default.

A path names a field: ``migration.transport``; ``clients[].kind`` is a field of every element of
the list ``clients``. Parents come before their children. Read a field with ``field(path)``:
``field("migration.transport").choices``, ``default_of("image", workload)``.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import (
    defaults,
    ha_fields,
    mongodb_fields,
    names,
    rabbitmq_fields,
    retire_fields,
    rules,
    syntax,
)
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import field as catalog_field
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.defaults import DEFAULT_IMAGES, DEFAULT_VERSIONS
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.field import Field

ENGINES, NO_DEFAULT = catalog_field.ENGINES, catalog_field.NO_DEFAULT  # read as schema.ENGINES, schema.NO_DEFAULT
POSTGRESQL = ("postgresql",)
BUILT_ENGINES = ("postgresql", "rabbitmq", "mongodb")
BACKED_UP = ("postgresql", "mongodb")
FORCE_FIX = ("remove it; to replace a target database in one run, run the migrate playbook with -e stateshift_force=true "
             "(or give pg_migrate force: true)")
NOT_BUILT_FIX = "remove it until the %s is built (see the issues); nothing would act on it"


DNS_LABEL_FIX = "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
PG_NAME_FIX = "use lower-case letters, digits and '_' (at most 63), starting with a letter or '_'"
PG_ROLE_FIX = "use letters, digits, '_' and '-' (at most 63), starting with a letter or '_'"
SECRET_NAME_FIX = "use lower-case letters, digits, '-' and '.' (a DNS-1123 subdomain, at most 253)"
SECRET_KEY_FIX = "use letters, digits, '-', '_' and '.' (at least one letter or digit)"
LABELS_FIX = "write labels as name: value, names like app or example.com/app, values of at most 63 letters, digits, '-', '_', '.'"


def _resources(part):
    return (
        Field("resources.%s" % part, "dict", "Container resource %s." % part),
        Field("resources.%s.cpu" % part, "quantity", "CPU %s, e.g. 250m or 1." % part, rule=rules.quantity, fix="write it like 250m or 1"),
        Field("resources.%s.memory" % part, "quantity", "Memory %s, e.g. 512Mi." % part, rule=rules.quantity, fix="write it like 512Mi"),
    )


FIELDS = (
    Field("name", "str", "Names the workload; prefixes every object (`<name>-<engine>`, ...).", rule=syntax.dns_label,
          required="name the workload (a DNS-1123 label, it prefixes every object)", fix=DNS_LABEL_FIX),
    Field("engine", "str", "The database engine.", choices=BUILT_ENGINES, required="set engine: postgresql, rabbitmq or mongodb",
          fix="use engine: postgresql, rabbitmq or mongodb"),
    Field("namespace", "str", "Namespace of every object; namespace/name is unique across the catalog.", default=lambda w: w["name"],
          default_doc="name", rule=syntax.dns_label, fix=DNS_LABEL_FIX),
    Field("service_name", "str", "Name of the client Service and the StatefulSet (every other object name starts with it): the "
          "name clients already connect to, e.g. postgres. Changing it later makes new, empty objects beside the old ones.",
          default=names.default_app_name, default_doc="<name>-<engine>", rule=rules.statefulset_name,
          fix="use at most 52 lower-case letters, digits and '-', starting and ending with a letter or digit"),
    Field("pod_security", "str", "Pod Security Admission level enforced on the namespace.", default="restricted",
          choices=("privileged", "baseline", "restricted"), fix="use restricted (what every object deployed here passes), or baseline"),
    Field("version", "version", "Major version of the server.", default=defaults.version,
          default_doc=", ".join("%s (%s)" % (v, engine) for engine, v in DEFAULT_VERSIONS.items()), rule=syntax.version,
          fix="write the major version like version: \"18\"", normalize=str),
    Field("image", "str", "Server image.", default=defaults.image,
          default_doc=", ".join(DEFAULT_IMAGES.values()).replace("{version}", "<version>"), rule=syntax.image,
          fix="write it like postgres:18-alpine or registry.example.com/postgres:18@sha256:<digest>"),
    Field("replicas", "int", "Pods of the StatefulSet; PostgreSQL: one server, or the members of its Patroni cluster with "
          "ha: patroni; RabbitMQ one node; MongoDB: members of the replica set (1, 3, 5 or 7).", default=1, minimum=1),
    Field("storage", "dict", "The data volume.", required="set storage: {size: 10Gi} (and class: unless the default StorageClass fits)"),
    Field("storage.size", "quantity", "Size of the data volume, at least 1Mi.", rule=rules.volume_size,
          required="set the volume size, e.g. size: 10Gi", fix="write it like 10Gi"),
    Field("storage.class", "str", "StorageClass of the data volume; null uses the cluster's default.", default=None, nullable=True,
          rule=syntax.storage_class, fix="use the name shown by 'kubectl get storageclass'"),
    Field("resources", "dict", "Requests and limits of the server container (a request may not exceed its limit).", default={}),
    *_resources("requests"), *_resources("limits"),
    Field("auth", "dict", "Superuser credentials the StatefulSet reads.", default={}, engines=BUILT_ENGINES),
    Field("auth.user", "str", "Superuser name (POSTGRES_USER; RabbitMQ: the administrator user; MongoDB: the root user).",
          default=lambda w: w["name"],
          default_doc="name", engines=BUILT_ENGINES, rule=syntax.pg_role, fix=PG_ROLE_FIX),
    Field("auth.secret", "str", "Secret holding the superuser password (and every other key the workload reads).",
          default=lambda w: names.default_secret(w["name"]), default_doc=names.default_secret("<name>"), engines=BUILT_ENGINES,
          rule=syntax.dns_subdomain, fix=SECRET_NAME_FIX),
    Field("auth.password_key", "str", "Key of the password in that Secret.", default=defaults.password_key,
          default_doc="postgres-password (postgresql), rabbitmq-password (rabbitmq), mongodb-root-password (mongodb)",
          engines=BUILT_ENGINES,
          rule=syntax.secret_key, fix=SECRET_KEY_FIX),
    Field("databases", "list", "Databases the server must have, created at first start or by the next run after they are added "
          "(never dropped when removed); the first is POSTGRES_DB.", default=defaults.databases,
          default_doc="[name with - as _]", elements="dict", shorthand="name", engines=POSTGRESQL, fix="write a YAML list of databases"),
    Field("databases[].name", "str", "Database name.", rule=rules.pg_identifier, required="name the database", fix=PG_NAME_FIX),
    Field("databases[].owner", "str", "Owner of a database after the first (default: auth.user).", rule=syntax.pg_role, fix=PG_ROLE_FIX),
    Field("roles", "list", "Roles the server must have, created at first start or by the next run after they are added (never "
          "dropped when removed).", default=[], elements="dict", shorthand="name", engines=POSTGRESQL, fix="write a YAML list of roles"),
    Field("roles[].name", "str", "Role name.", rule=rules.pg_identifier, required="name the role", fix=PG_NAME_FIX),
    Field("roles[].password_key", "str", "Key of the role's password in auth.secret (declared under secrets when secrets is given).",
          rule=syntax.secret_key, fix=SECRET_KEY_FIX),
    Field("roles[].login", "bool", "Whether the role may log in.", default=True),
    Field("settings", "dict", "Server settings (name: value): included from postgresql.conf, values quoted there; RabbitMQ: lines "
          "of rabbitmq.conf.", default={},
          rule=syntax.settings, fix="write server settings as name: value, names like shared_buffers, values on one line"),
    Field("secrets", "dict", "Secret -> key -> {op, generate, rotate, role} (1Password), {value} (a literal) or {from: host, port, user, "
          "database or url} (derived from the workload); see roles/secrets/README.md.", default={},
          fix="write Secret name -> key -> source"),
    Field("source", "dict", "Where the data lives today: a container on an inventory host, or a dsn (PostgreSQL)."),
    Field("source.host", "str", "Inventory host that runs Docker (required unless dsn).", rule=syntax.inventory_host,
          fix="use the host's name in the inventory"),
    Field("source.container", "str", "Container of the source database (required unless dsn).", rule=syntax.container_name,
          fix="use the name shown by 'docker ps'"),
    Field("source.database", "str", "Source database (required unless dsn or databases; a dsn names its own, the target's is then "
          "the first of databases). MongoDB: the one database to move (required).", default=defaults.source_database,
          default_doc="source.databases[0] or databases[0].name", engines=POSTGRESQL + mongodb_fields.MONGODB, rule=rules.source_database,
          fix="use the name shown by \\l in psql (MongoDB: show dbs)"),
    Field("source.databases", "names", "Several databases of the source moved together (instead of source.database): all (every "
          "one but the templates and postgres) or a list; see roles/data_migration/README.md.", engines=POSTGRESQL,
          rule=rules.source_databases, fix="write all, or a YAML list of the names \\l shows in psql"),
    Field("source.user", "str", "Role to read the source as.", default="postgres", engines=POSTGRESQL, rule=syntax.pg_role,
          fix=PG_ROLE_FIX),
    Field("source.password", "str", "Source password, needed only by the job transport (else the container's POSTGRES_PASSWORD). "
          "Kept out of the stateshift_catalog fact.", no_log=True, engines=POSTGRESQL, rule=syntax.no_control_characters,
          fix="give the password on one line"),
    Field("source.dsn", "str", "libpq connection string of a source reached directly (instead of host and container). Its password "
          "is kept out of the stateshift_catalog fact.", no_log=True, engines=POSTGRESQL, rule=syntax.connection_string,
          fix="write it on one line like 'host=db port=5432 dbname=app user=app' or postgresql://app@db:5432/app"),
    Field("source.address", "str", "host[:port] at which the cluster's pods reach the source (found from docker port when omitted; "
          "the port defaults to the engine's: 5432, 5672).", rule=syntax.host_port,
          fix="write it like 192.0.2.10:5432 or db.example.com:5432"),
    Field("source.sslmode", "str", "libpq sslmode of the connections that reach the source over the network (the Job's, a dsn's).",
          default="prefer", engines=POSTGRESQL, choices=("disable", "allow", "prefer", "require", "verify-ca", "verify-full")),
    Field("source.require_auth", "str", "Authentication methods those connections accept from the source server (libpq "
          "require_auth, applied where the client's libpq is 16 or newer); 'password' sends the password in clear and must be "
          "listed to be allowed.", default="scram-sha-256,md5", engines=POSTGRESQL, rule=rules.auth_methods,
          fix="write it like scram-sha-256 or scram-sha-256,md5"),
    Field("source.compose_dir", "str", "Compose project directory on source.host; the cutover stops its application services "
          "there, a rollback starts them again.", rule=syntax.absolute_path, fix="give the folder that holds docker-compose.yml"),
    Field("source.compose_services", "list", "Compose services stopped at cutover (default: every service of the project but the "
          "database's).", default=[], elements="str", rule=syntax.compose_services, fix="list service names as in docker-compose.yml"),
    Field("migration", "dict", "How the data is copied; see roles/data_migration/README.md.", default={}),
    Field("migration.mode", "str", "offline: streamed dump and restore. online: PostgreSQL logical replication (a publication on "
          "the source, a subscription on the target) until pg_final_sync at cutover; needs wal_level=logical on the source.",
          default="offline", choices=("offline", "online")),
    Field("migration.jobs", "int", "Parallel table copies and index builds.", default=2, minimum=1, maximum=64),
    Field("migration.table_part_mib", "int", "Tables over twice this many MiB are copied in parts of this size (page ranges), in "
          "parallel, each committed alone: a re-run copies the parts not in (0: tables whole).", default=1024, minimum=0, maximum=1 << 20),
    Field("migration.verify", "str", "Verification after the copy.", default="checksum", choices=("checksum", "count", "none")),
    Field("migration.force", "bool", "Removed: replacing a target database is a choice for one run, not a standing default.",
          removed=("is no longer a catalog field: replacing a target database is a choice for one run, never a standing default",
                   FORCE_FIX)),
    Field("migration.transport", "str", "auto (stream under 64 MiB of tables, else job if the cluster reaches the source), "
          "job (in-cluster Job) or stream (through the controller).", default="auto", choices=("auto", "job", "stream")),
    Field("migration.backup", "bool", "Back up the source before the copy.", default=True),
    Field("migration.backup_dir", "str", "Directory for that backup on the source host.", default="/var/backups/stateshift",
          rule=syntax.absolute_path, fix="give a directory on the source host, like /var/backups/stateshift"),
    Field("migration.keep_privileged_roles", "bool", "Keep SUPERUSER, REPLICATION, BYPASSRLS and CREATEROLE of copied roles, and their "
          "memberships in pg_execute_server_program, pg_read_server_files, pg_write_server_files and pg_signal_backend.",
          default=False),
    Field("backup", "dict", "The backup CronJob.", default={}, engines=BACKED_UP),
    Field("backup.schedule", "str", "Cron schedule (five fields or @daily).", default="0 3 * * *", rule=syntax.cron_schedule,
          fix="use five fields, e.g. '0 8 * * *', or @daily"),
    Field("backup.retention_days", "int", "Days a backup is kept.", default=7, minimum=1),
    Field("backup.pvc_size", "quantity", "Size of the backup volume.", default=lambda w: w["storage"]["size"], default_doc="storage.size",
          rule=rules.quantity, fix="write it like 20Gi"),
    Field("backup.storage_class", "str", "StorageClass of the backup volume.", default=lambda w: w["storage"]["class"],
          default_doc="storage.class", nullable=True, rule=syntax.storage_class, fix="use the name shown by 'kubectl get storageclass'"),
    Field("backup.s3", "dict", "Off-site copies: every checked backup is uploaded to an S3-compatible bucket and checked there; "
          "the bucket keeps them retention_days. Credentials are keys of auth.secret (the secrets phase writes them).",
          engines=POSTGRESQL),
    Field("backup.s3.endpoint", "str", "URL of the S3 server, e.g. https://s3.eu-central-1.amazonaws.com or http://nas.lan:9000.",
          required="give the S3 server's URL, e.g. https://s3.eu-central-1.amazonaws.com", rule=syntax.http_url,
          fix="write it like https://s3.example.com or http://192.0.2.10:9000 (no path)"),
    Field("backup.s3.bucket", "str", "Bucket the backups go to (it must exist).", required="name the bucket",
          rule=syntax.s3_bucket, fix="use 3 to 63 lower-case letters, digits, '.' and '-'"),
    Field("backup.s3.prefix", "str", "Key prefix of the backups in the bucket.", default=defaults.s3_prefix,
          default_doc="<namespace>/<service_name>", rule=syntax.s3_prefix,
          fix="use letters, digits and ! _ . * ' ( ) / -, without a leading '/' or '..'"),
    Field("backup.s3.region", "str", "Region of the bucket.", default="us-east-1", rule=syntax.no_control_characters,
          fix="write the region on one line, e.g. eu-central-1"),
    Field("backup.s3.access_key_key", "str", "Key of auth.secret holding the access key ID.", default="s3-access-key-id",
          rule=syntax.secret_key, fix=SECRET_KEY_FIX),
    Field("backup.s3.secret_key_key", "str", "Key of auth.secret holding the secret access key.", default="s3-secret-access-key",
          rule=syntax.secret_key, fix=SECRET_KEY_FIX),
    Field("backup.s3.retention_days", "int", "Days a backup is kept in the bucket.", default=lambda w: w["backup"]["retention_days"],
          default_doc="backup.retention_days", minimum=1),
    Field("backup.s3.image", "str", "Image of the uploader (rclone).", default="rclone/rclone:1.60", rule=syntax.image,
          fix="write it like rclone/rclone:1.60 or registry.example.com/rclone:1.68"),
    Field("backup.drill", "dict", "A restore drill: on its schedule, the newest backup of every database (on the backup volume) is "
          "restored into a scratch database, verified (pg_restore --list, the row counts the backup recorded) and dropped; the "
          "databases phase reports when the last drill passed.", engines=POSTGRESQL),
    Field("backup.drill.schedule", "str", "Cron schedule of the drill.", default="0 5 * * 0", rule=syntax.cron_schedule,
          fix="use five fields, e.g. '0 5 * * 0', or @weekly"),
    Field("clients", "list", "Workloads that use the database; restarted at rotation, cutover and rollback.", default=[], elements="dict",
          fix="list the workloads that use this database: [{kind: Deployment, name: app}]"),
    Field("clients[].kind", "str", "Kind of the client.", default="Deployment", choices=("Deployment", "StatefulSet", "DaemonSet")),
    Field("clients[].name", "str", "Name of the client.", required="name the client", rule=syntax.dns_subdomain,
          fix="use the name shown by 'kubectl get deployment' (a DNS-1123 subdomain)"),
    Field("clients[].namespace", "str", "Namespace of the client.", default=lambda w: w["namespace"], default_doc="namespace",
          rule=syntax.dns_label, fix=DNS_LABEL_FIX),
    Field("clients[].settings", "list", "Keys of Secrets/ConfigMaps the client reads that name the database's address; the cutover "
          "points them at the StatefulSet's Service, a rollback puts back the value they had.", default=[], elements="dict",
          fix="list them like [{kind: Secret, name: app-env, key: DATABASE_URL}]"),
    Field("clients[].settings[].kind", "str", "Kind of the object.", default="Secret", choices=("Secret", "ConfigMap")),
    Field("clients[].settings[].name", "str", "Name of the object, in the client's namespace.", required="name the Secret or ConfigMap",
          rule=syntax.dns_subdomain, fix=SECRET_NAME_FIX),
    Field("clients[].settings[].key", "str", "Key whose value names the database.", required="name the key", rule=syntax.secret_key,
          fix=SECRET_KEY_FIX),
    Field("clients[].settings[].form", "str", "What the value is: url (postgresql://, amqp:// or mongodb:// URI, key=value conninfo: only "
          "host and port change, so a password in it stays where it is), host, or host_port (host:port).", default="url",
          choices=("url", "host", "host_port")),
    Field("network", "dict", "Who may connect besides the workload's backup and migration pods; other pods, even of the "
          "same namespace, only when listed here (see roles/postgresql/README.md).", default={}),
    Field("network.allow_from", "list", "NetworkPolicy ingress rules.", default=[], elements="dict",
          fix="list the namespaces or pod labels allowed to connect"),
    Field("network.allow_from[].namespace", "str", "Namespace allowed to connect.", rule=syntax.dns_label, fix=DNS_LABEL_FIX),
    Field("network.allow_from[].namespace_labels", "dict", "Labels of namespaces allowed to connect.", rule=syntax.labels, fix=LABELS_FIX),
    Field("network.allow_from[].pod_labels", "dict", "Labels of pods allowed to connect (in the workload's namespace unless "
          "namespace or namespace_labels is given).", rule=syntax.labels, fix=LABELS_FIX),
    Field("network.restrict_egress", "bool", "Let the database pods reach DNS only (they open no connections of their own); false "
          "leaves their egress open, e.g. for an archive_command that ships WAL elsewhere.", default=True),
    Field("cutover", "dict", "What else changes when clients move (see roles/cutover/README.md).", default={}),
    Field("cutover.service", "str", "A Service clients use by name: a rollback points it at source.address (no selector, one "
          "EndpointSlice: the VM has no DNS name), the cutover at the StatefulSet's pods.", rule=syntax.dns_label, fix=DNS_LABEL_FIX),
    Field("cutover.remove_rules", "list", "Temporary network rules removed at cutover and put back by a rollback: the rules of a "
          "NetworkPolicy or CiliumNetworkPolicy that name the source's CIDR.", default=[], elements="dict",
          fix="list them like [{kind: CiliumNetworkPolicy, namespace: cloudflare, name: cloudflared, cidr: 10.10.50.10/32}]"),
    Field("cutover.remove_rules[].kind", "str", "Kind of the policy.", default="NetworkPolicy",
          choices=("NetworkPolicy", "CiliumNetworkPolicy")),
    Field("cutover.remove_rules[].namespace", "str", "Namespace of the policy.", required="name the policy's namespace",
          rule=syntax.dns_label, fix=DNS_LABEL_FIX),
    Field("cutover.remove_rules[].name", "str", "Name of the policy.", required="name the policy", rule=syntax.dns_subdomain,
          fix="use the name shown by 'kubectl get networkpolicy' (a DNS-1123 subdomain)"),
    Field("cutover.remove_rules[].cidr", "str", "The CIDR whose rules are removed (ipBlock.cidr, toCIDR, fromCIDR, toCIDRSet).",
          required="give the source's CIDR, e.g. 10.10.50.10/32", rule=syntax.cidr, fix="write it like 10.10.50.10/32"),
    *retire_fields.FIELDS,
    *ha_fields.FIELDS,
    *rabbitmq_fields.FIELDS,
    *mongodb_fields.FIELDS,
)

# What the catalog adds to every workload, made from the fields above (see names.py).
OUTPUT_KEYS = {
    "objects": ("every object name of the workload, by what the object is", names.object_names),
    "labels": ("labels on every object of the workload", names.labels),
    "backup_labels": ("labels on the backup's objects", lambda workload: names.labels(workload, "backup")),
    "selector": ("labels that select the workload's pods", names.selector),
}

_BY_PATH = {f.path: f for f in FIELDS}


def field(path):
    """The Field declared at ``path`` (``clients[].kind``); KeyError when there is none."""
    return _BY_PATH[path]


def children(path):
    """The fields directly below ``path`` ("" for the workload itself, ``clients[]`` for a list's elements)."""
    return [f for f in FIELDS if f.parent == path]


def default_of(path, workload):
    """The default of the field at ``path`` for ``workload`` (a validated one, for derived defaults)."""
    return field(path).default_for(workload)
