# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client setting pointed at another database address, changing nothing else in it.

A setting's ``form`` (catalog ``clients[].settings[].form``) says what its value is: ``url`` (a postgresql://,
amqp(s):// or mongodb:// URI, or a key=value conninfo: only host and port change, so a password in it stays as it is), ``host`` or
``host_port``. Values are never put in a message: they may hold a password.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_CONNINFO_PAIR = re.compile(r"(?P<key>\w+)\s*=\s*(?P<value>'(?:[^'\\]|\\.)*'|\S+)")
_REPLACED_KEYS = ("host", "hostaddr", "port")
URI_SCHEMES = ("postgresql://", "postgres://", "amqp://", "amqps://", "mongodb://")
DNS_SEEDED = "mongodb+srv://"


class SettingError(Exception):
    """A value cannot be pointed elsewhere; the message says why and never shows the value."""


def pointed(value, form, host, port):
    """``value`` with its database address replaced by ``host``:``port``."""
    if form == "host":
        return host
    if form == "host_port":
        return "%s:%s" % (host, port)
    if value.startswith(URI_SCHEMES):
        return _pointed_uri(value, host, port)
    if value.startswith(DNS_SEEDED):
        raise SettingError("is a mongodb+srv:// URI, whose hosts come from DNS records; write it as mongodb://host:port/... first")
    if _CONNINFO_PAIR.search(value):
        return _pointed_conninfo(value, host, port)
    raise SettingError("is neither a postgresql://, amqp:// or mongodb:// URI nor a key=value connection string; set form: host or "
                       "host_port if it holds only the address")


def _pointed_uri(value, host, port):
    parts = urlsplit(value)
    if "," in parts.netloc:
        raise SettingError("names several hosts; give one host, or point it at the Service by hand")
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = "%s@%s:%s" % (userinfo, host, port) if "@" in parts.netloc else "%s:%s" % (host, port)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _pointed_conninfo(value, host, port):
    kept = [match.group(0) for match in _CONNINFO_PAIR.finditer(value) if match.group("key") not in _REPLACED_KEYS]
    return " ".join(["host=%s" % host, "port=%s" % port, *kept])


def saved_key(setting, namespace):
    """The key under which the previous value of ``setting`` (of a client in ``namespace``) is kept."""
    return "%s.%s.%s.%s" % (setting["kind"].lower(), namespace, setting["name"], setting["key"])
