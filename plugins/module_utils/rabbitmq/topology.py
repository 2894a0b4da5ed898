# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The topology of a broker - queues, exchanges, bindings, policies - as its definitions export holds it, compared
between the old broker and the StatefulSet's: what the new one lacks, and what the two declare differently.

Users and permissions are not topology: the catalog declares them (rabbitmq/definitions.py), with passwords from
the workload's Secret, and the old broker's users are only reported.
"""

from __future__ import annotations

import json

KINDS = ("queues", "exchanges", "bindings", "policies")
# What a queue or exchange is declared with: a redeclaration that differs is refused by the broker (PRECONDITION_FAILED).
DECLARED = {"queues": ("durable", "auto_delete", "arguments"), "exchanges": ("type", "durable", "auto_delete", "internal", "arguments"),
            "policies": ("pattern", "apply-to", "definition", "priority")}


class TopologyError(Exception):
    """The old broker's topology cannot be moved as it is; the message names what and the fix."""


def key(kind, item):
    if kind == "bindings":
        return (item.get("vhost"), item.get("source"), item.get("destination"), item.get("destination_type"),
                item.get("routing_key"), json.dumps(item.get("arguments") or {}, sort_keys=True))
    return (item.get("vhost"), item.get("name"))


def built_in(kind, item):
    """The default exchange and the amq.* ones exist on every vhost and are never declared."""
    return kind == "exchanges" and (not item.get("name") or str(item["name"]).startswith("amq."))


def of(document, kind):
    return [item for item in (document or {}).get(kind) or [] if not built_in(kind, item)]


def vhosts_holding_topology(document):
    """{vhost: [what it holds]} of the vhosts with any queue, declared exchange or policy."""
    found = {}
    for kind in ("queues", "exchanges", "policies"):
        for item in of(document, kind):
            found.setdefault(item.get("vhost"), []).append("%s %s" % (kind[:-1], item.get("name")))
    return found


def undeclared_vhosts(document, declared):
    """Messages naming the old broker's vhosts that hold topology but are not among the catalog's ``declared`` ones."""
    return ["vhost %s holds %s" % (vhost, ", ".join(sorted(held)[:5]) + (" and %d more" % (len(held) - 5) if len(held) > 5 else ""))
            for vhost, held in sorted(vhosts_holding_topology(document).items()) if vhost not in declared]


def conflicts(old, new):
    """Messages naming what both brokers declare differently (a queue's durability or arguments, an exchange's type...)."""
    found = []
    for kind, fields in DECLARED.items():
        present = {key(kind, item): item for item in of(new, kind)}
        for item in of(old, kind):
            twin = present.get(key(kind, item))
            differing = [field for field in fields if twin is not None and _normal(item.get(field)) != _normal(twin.get(field))]
            if differing:
                found.append("%s %s on vhost %s differs in %s" % (kind[:-1], item.get("name"), item.get("vhost"), ", ".join(differing)))
    return found


def _normal(value):
    """A declared value in a comparable form; a classic queue is one whatever says so or not."""
    if isinstance(value, dict) and value.get("x-queue-type") == "classic":
        value = {key: item for key, item in value.items() if key != "x-queue-type"}
    return json.dumps(value if value is not None else {}, sort_keys=True)


def missing(old, new, vhosts):
    """The definitions document of the old broker's topology, in ``vhosts``, that ``new`` lacks."""
    document = {}
    for kind in KINDS:
        present = {key(kind, item) for item in of(new, kind)}
        document[kind] = [item for item in of(old, kind) if item.get("vhost") in vhosts and key(kind, item) not in present]
    return document


def count(document):
    return sum(len(document.get(kind) or []) for kind in KINDS)


def summary(document):
    """{kind: ["vhost/name", ...]} for --diff and the result (a binding as vhost/source->destination)."""
    shown = {}
    for kind in KINDS:
        names = []
        for item in of(document, kind):
            name = "%s->%s" % (item.get("source") or "(default)", item.get("destination")) if kind == "bindings" else item.get("name")
            names.append("%s/%s" % (item.get("vhost"), name))
        shown[kind] = sorted(names)
    return shown


def users_not_declared(document, declared_users):
    """The old broker's users the catalog does not declare: they are not moved (their passwords are not in the Secret)."""
    return sorted(user.get("name") for user in (document or {}).get("users") or [] if user.get("name") not in declared_users)
