# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog fields only RabbitMQ workloads have: the Erlang cookie, vhosts and users (schema.py lists them last)."""

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


def users_vhosts_declared(workload):
    """Every vhost a user is given is declared under vhosts."""
    vhosts = workload.get("vhosts", ["/"])
    declared = {v.get("name") if isinstance(v, dict) else v for v in vhosts} if isinstance(vhosts, list) else set()
    users = workload.get("users") if isinstance(workload.get("users"), list) else []
    for index, user in enumerate(users):
        for position, vhost in enumerate(user.get("vhosts") or [] if isinstance(user, dict) else []):
            if vhost not in declared:
                yield ("users[%d].vhosts[%d]" % (index, position), vhost,
                       "is not one of vhosts (%s)" % ", ".join(sorted(map(str, declared))),
                       "declare it under vhosts, or give the user a declared vhost")


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
)
