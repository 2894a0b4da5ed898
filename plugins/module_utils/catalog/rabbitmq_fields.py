# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog fields only RabbitMQ workloads have: the Erlang cookie, vhosts, users, and the topology the broker must
have - queues, exchanges, bindings, policies (schema.py lists them last)."""

from __future__ import annotations

import re

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import syntax
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.field import Field

RABBITMQ = ("rabbitmq",)
USER_TAGS = ("administrator", "monitoring", "policymaker", "management", "impersonator")
# Names the definitions file, rabbitmqctl and the management API's URLs all carry unchanged.
_NAME = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_./@-]{0,254}$")
NAME_FIX = "use letters, digits and _ . / @ - (at most 255), starting with a letter, digit, '_' or '/'"
SECRET_KEY_FIX = "use letters, digits, '-', '_' and '.' (at least one letter or digit)"
TOPOLOGY_NAME_FIX = NAME_FIX + ", not starting with amq."
_ARGUMENT = re.compile(r"^x-[a-z0-9-]{1,60}$")
_POLICY_KEY = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def rabbitmq_name(value, workload):
    """RabbitMQ vhost or user name (letters, digits, _ . / @ -)"""
    if not isinstance(value, str) or not _NAME.match(value):
        return "is not a name RabbitMQ takes here"
    return None


def user_tags(value, workload):
    """tags among %s"""
    unknown = [tag for tag in value if tag not in USER_TAGS]
    return "has tag(s) %s that RabbitMQ does not know" % ", ".join(map(str, unknown)) if unknown else None


user_tags.__doc__ = user_tags.__doc__ % ", ".join(USER_TAGS)


def topology_name(value, workload):
    """queue or exchange name (letters, digits, _ . / @ -), not starting with amq. (reserved by RabbitMQ)"""
    if rabbitmq_name(value, workload) or value.startswith("amq."):
        return "is not a name RabbitMQ takes for a queue or exchange here"
    return None


def _declared_vhosts(workload):
    vhosts = workload.get("vhosts", ["/"])
    return {v.get("name") if isinstance(v, dict) else v for v in vhosts} if isinstance(vhosts, list) else set()


def _items(workload, field):
    items = workload.get(field)
    return [(index, item) for index, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def _scalars_only(value, key_pattern, what):
    for key, item in value.items():
        if not isinstance(key, str) or not key_pattern.match(key):
            return "has key %r that is not %s" % (key, what)
        if isinstance(item, (dict, list)) or item is None:
            return "has a %s for %r, not a string, number or boolean" % (type(item).__name__, key)
    return None


def x_arguments(value, workload):
    """queue arguments: keys x-..., values strings, numbers or booleans"""
    return _scalars_only(value, _ARGUMENT, "an x- argument")


def policy_definition(value, workload):
    """policy keys (lower case, digits, -), values strings, numbers or booleans"""
    if not value:
        return "is empty"
    return _scalars_only(value, _POLICY_KEY, "a policy key")


def regular_expression(value, workload):
    """a regular expression on one line"""
    try:
        re.compile(value)
    except re.error as exc:
        return "is not a regular expression (%s)" % exc
    return syntax.no_control_characters(value, workload)


def users_vhosts_declared(workload):
    """Every vhost a user is given is declared under vhosts."""
    declared = _declared_vhosts(workload)
    for index, user in _items(workload, "users"):
        for position, vhost in enumerate(user.get("vhosts") or []):
            if vhost not in declared:
                yield ("users[%d].vhosts[%d]" % (index, position), vhost,
                       "is not one of vhosts (%s)" % ", ".join(sorted(map(str, declared))),
                       "declare it under vhosts, or give the user a declared vhost")


def topology_declared(workload):
    """Queues, exchanges, bindings and policies name declared vhosts; a binding joins an exchange and a queue (or
    exchange) the catalog declares (or a built-in amq.* exchange); a quorum or stream queue is durable."""
    declared = _declared_vhosts(workload)
    for field in ("queues", "exchanges", "bindings", "policies"):
        for index, item in _items(workload, field):
            if "vhost" in item and item["vhost"] not in declared:
                yield ("%s[%d].vhost" % (field, index), item["vhost"], "is not one of vhosts (%s)" % ", ".join(sorted(map(str, declared))),
                       "declare it under vhosts")
    queues = {(item.get("vhost", "/"), item.get("name")) for _index, item in _items(workload, "queues")}
    exchanges = {(item.get("vhost", "/"), item.get("name")) for _index, item in _items(workload, "exchanges")}
    for index, queue in _items(workload, "queues"):
        if queue.get("type") in ("quorum", "stream") and queue.get("durable") is False:
            yield ("queues[%d].durable" % index, False, "is false for a %s queue, which is always durable" % queue["type"],
                   "remove durable: false, or use type: classic")
    for index, binding in _items(workload, "bindings"):
        vhost = binding.get("vhost", "/")
        source = binding.get("source")
        if isinstance(source, str) and not source.startswith("amq.") and (vhost, source) not in exchanges:
            yield ("bindings[%d].source" % index, source, "is not an exchange of exchanges on vhost %s" % vhost,
                   "declare the exchange under exchanges, or bind from a built-in amq.* exchange")
        targets = queues if binding.get("destination_type", "queue") == "queue" else exchanges
        if "destination" in binding and (vhost, binding["destination"]) not in targets:
            yield ("bindings[%d].destination" % index, binding["destination"], "is not a %s the catalog declares on vhost %s" % (
                binding.get("destination_type", "queue"), vhost), "declare it under %ss" % binding.get("destination_type", "queue"))


FIELDS = (
    Field("auth.cookie_key", "str", "Key of the Erlang cookie in auth.secret (RabbitMQ's CLI tools and nodes share it).",
          default="erlang-cookie", engines=RABBITMQ, rule=syntax.secret_key, fix=SECRET_KEY_FIX),
    Field("vhosts", "list", "Virtual hosts the broker must have (loaded from the definitions at boot and by every run; never "
          "deleted when removed).", default=["/"], default_doc="[/]", elements="dict", shorthand="name", engines=RABBITMQ,
          fix="write a YAML list of vhost names"),
    Field("vhosts[].name", "str", "Vhost name.", required="name the vhost", rule=rabbitmq_name, fix=NAME_FIX),
    Field("users", "list", "Users besides auth.user (the administrator), with the vhosts each may use; passwords are keys of "
          "auth.secret, stored in the broker as rabbit_password_hashing_sha256 hashes.", default=[], elements="dict",
          shorthand="name", engines=RABBITMQ, fix="write a YAML list of users: [{name: app, password_key: app-password, vhosts: [app]}]"),
    Field("users[].name", "str", "User name.", required="name the user", rule=rabbitmq_name, fix=NAME_FIX),
    Field("users[].password_key", "str", "Key of the user's password in auth.secret.", required="give the key of the user's password",
          rule=syntax.secret_key, fix=SECRET_KEY_FIX),
    Field("users[].tags", "list", "Management tags of the user.", default=[], elements="str", rule=user_tags,
          fix="use tags among %s" % ", ".join(USER_TAGS)),
    Field("users[].vhosts", "list", "Vhosts the user may configure, write and read (each one of vhosts); none by default.",
          default=[], elements="str", fix="list vhost names declared under vhosts"),
    Field("queues", "list", "Queues the broker must have (in its definitions, so they exist from boot).", default=[], elements="dict",
          engines=RABBITMQ, fix="write a YAML list of queues: [{name: orders, vhost: shop, type: quorum}]"),
    Field("queues[].name", "str", "Queue name.", required="name the queue", rule=topology_name, fix=TOPOLOGY_NAME_FIX),
    Field("queues[].vhost", "str", "Vhost of the queue (one of vhosts).", default="/", rule=rabbitmq_name, fix=NAME_FIX),
    Field("queues[].type", "str", "Queue type.", default="classic", choices=("classic", "quorum", "stream")),
    Field("queues[].durable", "bool", "Whether the queue survives a restart of the broker.", default=True),
    Field("queues[].arguments", "dict", "Further x- arguments, e.g. x-max-length: 10000.", default={}, rule=x_arguments,
          fix="write x- arguments like x-max-length: 10000"),
    Field("exchanges", "list", "Exchanges the broker must have.", default=[], elements="dict", engines=RABBITMQ,
          fix="write a YAML list of exchanges: [{name: events, vhost: shop, type: topic}]"),
    Field("exchanges[].name", "str", "Exchange name.", required="name the exchange", rule=topology_name, fix=TOPOLOGY_NAME_FIX),
    Field("exchanges[].vhost", "str", "Vhost of the exchange (one of vhosts).", default="/", rule=rabbitmq_name, fix=NAME_FIX),
    Field("exchanges[].type", "str", "Exchange type.", default="direct", choices=("direct", "fanout", "topic", "headers")),
    Field("exchanges[].durable", "bool", "Whether the exchange survives a restart of the broker.", default=True),
    Field("bindings", "list", "Bindings from an exchange to a queue or exchange the catalog declares.", default=[], elements="dict",
          engines=RABBITMQ, fix="write a YAML list of bindings: [{vhost: shop, source: events, destination: orders}]"),
    Field("bindings[].vhost", "str", "Vhost of the binding (one of vhosts).", default="/", rule=rabbitmq_name, fix=NAME_FIX),
    Field("bindings[].source", "str", "Exchange the binding routes from.", required="name the exchange", rule=rabbitmq_name,
          fix=NAME_FIX),
    Field("bindings[].destination", "str", "Queue (or exchange) the binding routes to.", required="name the queue",
          rule=topology_name, fix=TOPOLOGY_NAME_FIX),
    Field("bindings[].destination_type", "str", "What the destination is.", default="queue", choices=("queue", "exchange")),
    Field("bindings[].routing_key", "str", "Routing key (pattern for a topic exchange).", default="", rule=syntax.no_control_characters,
          fix="write the routing key on one line"),
    Field("policies", "list", "Policies the broker must have.", default=[], elements="dict", engines=RABBITMQ,
          fix="write a YAML list of policies: [{name: ttl, vhost: shop, pattern: ^mail$, definition: {message-ttl: 60000}}]"),
    Field("policies[].name", "str", "Policy name.", required="name the policy", rule=rabbitmq_name, fix=NAME_FIX),
    Field("policies[].vhost", "str", "Vhost of the policy (one of vhosts).", default="/", rule=rabbitmq_name, fix=NAME_FIX),
    Field("policies[].pattern", "str", "Regular expression of the queue or exchange names the policy applies to.",
          required="give the pattern, e.g. ^mail$", rule=regular_expression, fix="write a regular expression, e.g. ^mail$"),
    Field("policies[].apply_to", "str", "What the policy applies to.", default="queues", choices=("queues", "exchanges", "all")),
    Field("policies[].definition", "dict", "The policy's keys, e.g. max-length: 10000 or message-ttl: 60000.",
          required="give the definition, e.g. {max-length: 10000}", rule=policy_definition,
          fix="write keys like max-length: 10000 with strings, numbers or booleans"),
    Field("policies[].priority", "int", "Priority among the policies that match.", default=0, minimum=0, maximum=1000),
)
