# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A RabbitMQ workload's definitions made from the catalog and its Secret's passwords: users, vhosts, permissions, and
the queues, exchanges, bindings and policies the catalog declares.

A password's hash is salted: the hash the broker or the last definitions already hold is kept while it still
matches the password, so a re-run writes the same file and a changed password is the only thing that changes one.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import topology
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.derived import rabbitmq_password_hash, rabbitmq_password_hash_matches

ALGORITHM = "rabbit_password_hashing_sha256"
FULL = {"configure": ".*", "write": ".*", "read": ".*"}


class MissingPassword(Exception):
    """A key the definitions need is not in the workload's Secret."""


def users_of(workload):
    """[{name, password_key, tags, vhosts}]: the administrator (auth.user, every vhost) and the catalog's users."""
    vhosts = [vhost["name"] for vhost in workload["vhosts"]]
    admin = {"name": workload["auth"]["user"], "password_key": workload["auth"]["password_key"], "tags": ["administrator"],
             "vhosts": vhosts}
    return [admin] + [dict(user) for user in workload["users"] if user["name"] != admin["name"]]


def known_hashes(*documents):
    """{user: [password_hash, ...]} of definitions documents (the broker's export, the last definitions Secret)."""
    found = {}
    for document in documents:
        for user in (document or {}).get("users") or []:
            if user.get("hashing_algorithm", ALGORITHM) == ALGORITHM and user.get("password_hash"):
                found.setdefault(user.get("name"), []).append(user["password_hash"])
    return found


def password_hash(name, password, known):
    for candidate in known.get(name, []):
        if rabbitmq_password_hash_matches(password, candidate):
            return candidate
    return rabbitmq_password_hash(password)


def build(workload, passwords, known=None):
    """The definitions document of ``workload``; ``passwords``: {Secret key: password}; ``known``: known_hashes()."""
    known = known or {}
    users, permissions = [], []
    for user in users_of(workload):
        if user["password_key"] not in passwords:
            raise MissingPassword(user["password_key"])
        users.append({"name": user["name"], "password_hash": password_hash(user["name"], passwords[user["password_key"]], known),
                      "hashing_algorithm": ALGORITHM, "tags": list(user["tags"]), "limits": {}})
        permissions += [dict(FULL, user=user["name"], vhost=vhost) for vhost in user["vhosts"]]
    return {"users": users, "vhosts": [{"name": vhost["name"], "limits": [], "metadata": {"description": "", "tags": []}}
                                       for vhost in workload["vhosts"]],
            "permissions": permissions, "topic_permissions": [], "parameters": [], "global_parameters": [], **declared_topology(workload)}


def declared_topology(workload):
    """The catalog's queues, exchanges, bindings and policies as a definitions file holds them."""
    queues = [{"name": q["name"], "vhost": q["vhost"], "durable": q["durable"], "auto_delete": False,
               "arguments": dict(q["arguments"], **({} if q["type"] == "classic" else {"x-queue-type": q["type"]}))}
              for q in workload.get("queues") or []]
    exchanges = [{"name": e["name"], "vhost": e["vhost"], "type": e["type"], "durable": e["durable"], "auto_delete": False,
                  "internal": False, "arguments": {}} for e in workload.get("exchanges") or []]
    bindings = [{"source": b["source"], "vhost": b["vhost"], "destination": b["destination"], "destination_type": b["destination_type"],
                 "routing_key": b["routing_key"], "arguments": {}} for b in workload.get("bindings") or []]
    policies = [{"name": p["name"], "vhost": p["vhost"], "pattern": p["pattern"], "apply-to": p["apply_to"],
                 "definition": dict(p["definition"]), "priority": p["priority"]} for p in workload.get("policies") or []]
    return {"queues": queues, "exchanges": exchanges, "bindings": bindings, "policies": policies}


def missing_from(broker, wanted, passwords_by_user):
    """What the running broker (its export) lacks of ``wanted``: vhosts, users whose password does not match, permissions."""
    present_vhosts = {vhost.get("name") for vhost in broker.get("vhosts") or []}
    broker_hashes = known_hashes(broker)
    present_permissions = {(p.get("user"), p.get("vhost"), p.get("configure"), p.get("write"), p.get("read"))
                           for p in broker.get("permissions") or []}
    missing = ["vhost %s" % vhost["name"] for vhost in wanted["vhosts"] if vhost["name"] not in present_vhosts]
    missing += ["user %s" % user["name"] for user in wanted["users"]
                if not any(rabbitmq_password_hash_matches(passwords_by_user[user["name"]], h) for h in broker_hashes.get(user["name"], []))]
    broker_tags = {user.get("name"): sorted(user.get("tags") or []) for user in broker.get("users") or []}
    missing += ["tags of user %s" % user["name"] for user in wanted["users"]
                if user["name"] in broker_tags and broker_tags[user["name"]] != sorted(user["tags"])]
    missing += ["permission of %s on %s" % (p["user"], p["vhost"]) for p in wanted["permissions"]
                if (p["user"], p["vhost"], p["configure"], p["write"], p["read"]) not in present_permissions]
    lacking = topology.summary(topology.missing(wanted, broker, {vhost["name"] for vhost in wanted["vhosts"]}))
    missing += ["%s %s" % (kind[:-1], name) for kind in topology.KINDS for name in lacking[kind]]
    return missing


def summary(document):
    """The definitions without their hashes, for --diff and the result."""
    return {"users": sorted(user["name"] for user in document.get("users") or []),
            "vhosts": sorted(vhost["name"] for vhost in document.get("vhosts") or []),
            "permissions": sorted("%s@%s" % (p["user"], p["vhost"]) for p in document.get("permissions") or []),
            **{kind: names for kind, names in topology.summary(document).items() if names}}


def passwords_changed(before, after):
    """The users of both documents whose password hash changed (the hashes themselves are never shown)."""
    old = {user["name"]: user.get("password_hash") for user in before.get("users") or []}
    return sorted(user["name"] for user in after.get("users") or [] if user["name"] in old and old[user["name"]] != user["password_hash"])
