# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules the catalog schema names.

A field rule takes ``(value, workload)`` and returns the problem, or None when the value is good;
its fix is the field's and its docstring is what docs/catalog.md says about it. A workload rule takes the whole workload and returns
``(field, value, problem, fix)`` tuples, for checks that read more than one field.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import ha_fields, mongodb_fields, names, rabbitmq_fields, syntax
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.errors import MISSING
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.quantity import is_quantity, parse_quantity

_PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")


def quantity(value, workload):
    """Kubernetes quantity"""
    return None if is_quantity(value) else "is not a Kubernetes quantity"


def volume_size(value, workload):
    """Kubernetes quantity of at least 1Mi"""
    if not is_quantity(value):
        return "is not a Kubernetes quantity"
    if parse_quantity(value) < 2 ** 20:
        return "is smaller than 1Mi (a unit is probably missing)"
    return None


STATEFULSET_NAME_MAX = names.NAME_LIMITS["statefulset"]


def statefulset_name(value, workload):
    """DNS-1123 label of at most 52 characters (the pods' controller-revision-hash label adds 11)"""
    problem = syntax.dns_label(value, workload)
    if problem:
        return problem
    if len(value) > STATEFULSET_NAME_MAX:
        return "is longer than %d characters" % STATEFULSET_NAME_MAX
    return None


def pg_identifier(value, workload):
    """PostgreSQL identifier (a-z, 0-9, '_', at most 63)"""
    if not isinstance(value, str) or not _PG_IDENTIFIER.match(value):
        return "is not a valid PostgreSQL identifier"
    return None


def source_database(value, workload):
    """PostgreSQL (or MongoDB) database name"""
    if workload.get("engine") == "postgresql" and not _PG_IDENTIFIER.match(str(value)):
        return "is not a PostgreSQL database name"
    if workload.get("engine") == "mongodb":
        return mongodb_fields.database_name(value)
    return None


def source_databases(value, workload):
    """all, or a list of PostgreSQL database names"""
    if isinstance(value, str):
        return None if value == "all" else "must be all or a list of database names"
    if not value:
        return "must name at least one database"
    for index, name in enumerate(value):
        if not isinstance(name, str) or not _PG_IDENTIFIER.match(name):
            return "'%s' is not a PostgreSQL database name" % (name,)
        if name in value[:index]:
            return "names %s twice" % name
    return None


AUTH_METHODS = ("scram-sha-256", "md5", "password", "none")


def auth_methods(value, workload):
    """comma-separated libpq authentication methods: scram-sha-256, md5, password (sends the password in clear), none"""
    methods = [method.strip() for method in str(value).split(",")]
    if not value or any(method not in AUTH_METHODS for method in methods):
        return "is not a comma-separated list of %s" % ", ".join(AUTH_METHODS)
    return None


def requests_within_limits(workload):
    """A resource request is not above its limit."""
    resources = workload.get("resources") if isinstance(workload.get("resources"), dict) else {}
    requests, limits = resources.get("requests"), resources.get("limits")
    requests, limits = (requests if isinstance(requests, dict) else {}), (limits if isinstance(limits, dict) else {})
    for kind in ("cpu", "memory"):
        if is_quantity(requests.get(kind, "x")) and is_quantity(limits.get(kind, "x")) \
                and parse_quantity(requests[kind]) > parse_quantity(limits[kind]):
            yield ("resources.requests.%s" % kind, requests[kind], "is above its limit %s" % limits[kind],
                   "lower the request or raise the limit")


SINGLE_REPLICA_WHY = {
    "postgresql": "a PostgreSQL StatefulSet without a high-availability manager would run that many independent primaries "
                  "with diverging data",
    "rabbitmq": "RabbitMQ nodes of the StatefulSet would not form a cluster (clustering is not built yet): each would be a "
                "broker of its own with its own queues",
}


def single_replica(workload):
    """PostgreSQL runs replicas: 1 unless ha: patroni manages them; RabbitMQ runs replicas: 1 (no clustering yet)."""
    replicas = workload.get("replicas")
    why = SINGLE_REPLICA_WHY.get(workload.get("engine"))
    if ha_fields.is_patroni(workload) or ha_fields.is_cloudnative_pg(workload) or not why:
        return
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas > 1:
        fix = ("set ha: patroni (a Patroni cluster of that many members; image: one with Patroni), or replicas: 1"
               if workload.get("engine") == "postgresql" else "set replicas: 1 (clustering is a separate capability)")
        yield ("replicas", replicas, why, fix)


def broker_source_is_a_container(workload):
    """A RabbitMQ source is a broker container on an inventory host (its CLI tools export the definitions)."""
    source = workload.get("source")
    if workload.get("engine") != "rabbitmq" or not isinstance(source, dict):
        return
    for required in ("host", "container"):
        if not source.get(required):
            yield ("source.%s" % required, MISSING, "is required",
                   "set the inventory host that runs Docker and the name of the old broker's container ('docker ps')")


def source_is_reachable(workload):
    """A source has host, container (or Patroni's member containers) and database (or databases), unless it has a dsn."""
    source = workload.get("source")
    if not isinstance(source, dict) or "dsn" in source or workload.get("engine") != "postgresql":
        return
    if source.get("container") and source.get("patroni_members"):
        yield ("source.patroni_members", source["patroni_members"], "is given with source.container",
               "keep one: the container of a single server, or the members of a Patroni cluster")
    required = ["host"] + ([] if source.get("patroni_members") else ["container"]) + ([] if source.get("databases") else ["database"])
    for name in required:
        if not source.get(name):
            yield ("source.%s" % name, MISSING, "is required",
                   "set the inventory host, the container name and the database (or a dsn for a direct connection)")


def names_listed_once(workload):
    """No database, role, vhost or user is listed twice."""
    for field in ("databases", "roles", "vhosts", "users"):
        items = workload.get(field)
        seen = set()
        for index, item in enumerate(items if isinstance(items, list) else []):
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str) and name in seen:
                yield ("%s[%d].name" % (field, index), name, "is listed twice", "remove the duplicate")
            seen.add(name)


def allow_rules_not_empty(workload):
    """No network.allow_from rule is empty."""
    network = workload.get("network")
    rules = network.get("allow_from") if isinstance(network, dict) else None
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if rule == {}:
            yield ("network.allow_from[%d]" % index, rule, "is empty", "set namespace, namespace_labels or pod_labels")


SECRET_KEY_FIELDS = {"postgresql": ("roles",), "rabbitmq": ("users",), "mongodb": ()}  # lists whose elements name a password_key


def secret_keys_declared(workload):
    """When secrets is given, it declares every Secret key that auth, roles or users, and backup.s3 name."""
    secrets = workload.get("secrets")
    if not secrets or not isinstance(secrets, dict) or workload.get("engine") not in SECRET_KEY_FIELDS or "name" not in workload:
        return
    from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.schema import default_of  # noqa: PLC0415 (schema names these rules)
    auth = workload.get("auth") if isinstance(workload.get("auth"), dict) else {}
    secret = auth.get("secret", default_of("auth.secret", workload))
    needed = [("auth.password_key", auth.get("password_key", default_of("auth.password_key", workload)))]
    if workload["engine"] == "rabbitmq":
        needed.append(("auth.cookie_key", auth.get("cookie_key", default_of("auth.cookie_key", workload))))
    if workload["engine"] == "mongodb":
        needed.append(("auth.keyfile_key", auth.get("keyfile_key", default_of("auth.keyfile_key", workload))))
    needed += ha_fields.password_keys(workload)
    for listed in SECRET_KEY_FIELDS[workload["engine"]]:
        items = workload.get(listed) if isinstance(workload.get(listed), list) else []
        needed += [("%s[%d].password_key" % (listed, index), item["password_key"]) for index, item in enumerate(items)
                   if isinstance(item, dict) and item.get("password_key")]
    backup = workload.get("backup") if isinstance(workload.get("backup"), dict) else {}
    if isinstance(backup.get("s3"), dict):
        for name in ("access_key_key", "secret_key_key"):
            needed.append(("backup.s3.%s" % name, backup["s3"].get(name, default_of("backup.s3.%s" % name, workload))))
    for field, key in needed:
        if key not in (secrets.get(secret) or {}):
            yield (field, key, "refers to Secret key %s/%s that is not declared under secrets" % (secret, key),
                   "declare it under secrets.%s.%s (with an op reference or generate)" % (secret, key))


def cutover_can_reach_source(workload):
    """cutover.service needs source.address as IP:port (its EndpointSlice), and compose fields a Docker host."""
    source = workload.get("source") if isinstance(workload.get("source"), dict) else {}
    cutover = workload.get("cutover") if isinstance(workload.get("cutover"), dict) else {}
    if cutover.get("service") and not _ip_and_port(source.get("address")):
        yield ("source.address", source.get("address", MISSING), "must be IP:port when cutover.service is set (a rollback points "
               "that Service at it with an EndpointSlice, which holds IP addresses only)",
               "give the address at which pods reach the source, like 192.0.2.10:5432")
    for field in ("compose_dir", "compose_services"):
        if source.get(field) and source.get("dsn"):
            yield ("source.%s" % field, source[field], "needs a source on a Docker host (host and container), not a dsn",
                   "remove it, or describe the source by host and container")


def cutover_service_is_not_the_workloads(workload):
    """cutover.service is not the workload's own Service (service_name), which the role keeps pointed at the StatefulSet."""
    cutover = workload.get("cutover") if isinstance(workload.get("cutover"), dict) else {}
    if cutover.get("service") and isinstance(workload.get("name"), str) and isinstance(workload.get("engine"), str):
        made = names.object_names(workload)
        own = made["service"]
        if cutover["service"] in (own, made["headless_service"]):
            yield ("cutover.service", cutover["service"], "is the workload's own Service (service_name %s)" % own,
                   "name the Service clients used before the migration, or leave cutover.service out and set service_name "
                   "to the name clients connect to")


def _ip_and_port(address):
    host, _sep, port = str(address or "").rpartition(":")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return port.isdigit()


WORKLOAD_RULES = (requests_within_limits, single_replica, *ha_fields.RULES,
                  broker_source_is_a_container, rabbitmq_fields.users_vhosts_declared,
                  rabbitmq_fields.topology_declared, mongodb_fields.member_count, mongodb_fields.source_is_a_container,
                  mongodb_fields.live_secrets_not_rotated,
                  source_is_reachable, names_listed_once,
                  allow_rules_not_empty, secret_keys_declared, cutover_can_reach_source, cutover_service_is_not_the_workloads)
