# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The syntax rules of catalog strings that become names, keys, labels or paths somewhere.

Each rule takes ``(value, workload)`` and returns the problem, or None when the value is good (the
schema gives the fix). A value that passes cannot hold a newline, a quote, ``{{``, ``{%``, ``---``,
``;`` or ``$(``, so it cannot change the structure of the object, script or file it lands in.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import dsn

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]*[a-zA-Z0-9][-._a-zA-Z0-9]*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_PG_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
_SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_.]*$")
_CONTAINER = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$")
_INVENTORY_HOST = re.compile(r"^[A-Za-z0-9_\[]([A-Za-z0-9_.:@\[\]-]{0,252})$")
_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(:[0-9]{1,5})?$")
_HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_COMPOSE_SERVICE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_PATH = re.compile(r"^/[A-Za-z0-9._/@+-]*$")
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.]{0,15}$")
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)"
_IMAGE = re.compile(r"^%s?%s(?:/%s)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$"
                    % (_IMAGE_DOMAIN, _IMAGE_COMPONENT, _IMAGE_COMPONENT))
# postgresql.conf directives that read other files: a "setting" with one of these names would include a file.
_CONF_DIRECTIVES = ("include", "include_dir", "include_if_exists")
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?]+$")
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HTTP_URL = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(:[0-9]{1,5})?/?$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]+$")


def _matches(pattern, value, longest):
    return isinstance(value, str) and len(value) <= longest and pattern.match(value) is not None


def dns_label(value, workload):
    """DNS-1123 label (at most 63 of a-z, 0-9, '-')"""
    return None if _matches(_DNS_LABEL, value, 63) else "is not a DNS-1123 label"


def dns_subdomain(value, workload):
    """DNS-1123 subdomain (at most 253 of a-z, 0-9, '-', '.')"""
    return None if _matches(_DNS_SUBDOMAIN, value, 253) else "is not a DNS-1123 subdomain"


def storage_class(value, workload):
    """StorageClass name (DNS-1123 subdomain)"""
    return None if value is None or _matches(_DNS_SUBDOMAIN, value, 253) else "is not a StorageClass name"


def secret_key(value, workload):
    """Secret key (a-z, A-Z, 0-9, '-', '_', '.'; at least one letter or digit)"""
    return None if _matches(_SECRET_KEY, value, 253) else "is not a Secret key"


def pg_role(value, workload):
    """PostgreSQL role name (letters, digits, '_', '-', at most 63)"""
    return None if _matches(_PG_ROLE, value, 63) else "is not a PostgreSQL role name this collection accepts"


def image(value, workload):
    """image reference ([registry[:port]/]path[:tag][@digest])"""
    return None if _matches(_IMAGE, value, 512) else "is not an image reference"


def version(value, workload):
    """a version like 18 or 16.4 (a number is made a string)"""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not _VERSION.match(str(value)):
        return "is not a version"
    return None


def container_name(value, workload):
    """Docker container name (letters, digits, '_', '.', '-')"""
    return None if _matches(_CONTAINER, value, 255) else "is not a container name"


def inventory_host(value, workload):
    """inventory host name (letters, digits, '_', '.', ':', '-', '@', '[', ']')"""
    return None if _matches(_INVENTORY_HOST, value, 253) else "is not an inventory host name"


def host_port(value, workload):
    """host, IPv4 or [IPv6] address, optionally :port"""
    if not _matches(_ADDRESS, value, 261):
        return "is not host[:port]"
    port = value.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in value.rsplit("]", 1)[-1] else None
    return "has a port outside 1-65535" if port is not None and not 1 <= int(port) <= 65535 else None


def host_name(value, workload):
    """host name or IPv4/IPv6 address, without scheme, port or path"""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(value)
            return None
    if _matches(_HOST_NAME, value, 253):
        return None
    return "is not a host name or IP address (no scheme, port, path or spaces)"


def cidr(value, workload):
    """IPv4 or IPv6 network in CIDR notation"""
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return "is not a CIDR like 10.10.50.10/32"
    return None if "/" in value else "has no prefix length (/32 for one IPv4 address)"


def compose_services(value, workload):
    """Compose service names: letters, digits, '.', '_' and '-'"""
    bad = [name for name in value if not isinstance(name, str) or not _matches(_COMPOSE_SERVICE, name, 255)]
    return "names services that Compose cannot have: %s" % ", ".join(map(str, bad)) if bad else None


def absolute_path(value, workload):
    """absolute path of letters, digits and ._/@+- (no '..')"""
    if not _matches(_PATH, value, 4096) or ".." in value.split("/"):
        return "is not an absolute path of letters, digits and ._/@+-"
    return None


def http_url(value, workload):
    """http:// or https:// URL of a server: scheme, host and optional port, no path"""
    return None if _matches(_HTTP_URL, value, 300) else "is not an http(s) URL of a server"


def s3_bucket(value, workload):
    """S3 bucket name (3 to 63 of a-z, 0-9, '.', '-')"""
    return None if _matches(_S3_BUCKET, value, 63) and ".." not in value else "is not an S3 bucket name"


def s3_prefix(value, workload):
    """S3 key prefix of letters, digits and ! _ . * ' ( ) / - (not empty, no leading '/', no '..')"""
    if not _matches(_S3_PREFIX, value, 512) or value.startswith("/") or ".." in value.split("/"):
        return "is not a safe S3 key prefix"
    return None


def cron_schedule(value, workload):
    """five-field cron schedule or a macro such as @daily"""
    fields = value.split(" ") if isinstance(value, str) else []
    if value in _CRON_MACROS or (len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)):
        return None
    return "is not a cron schedule"


def no_control_characters(value, workload):
    """a string without newlines or other control characters"""
    return "holds a newline or another control character" if isinstance(value, str) and _CONTROL.search(value) else None


def connection_string(value, workload):
    """libpq connection string (key=value pairs or a postgresql:// URI) on one line"""
    return no_control_characters(value, workload) or dsn.problem(value)


def label_key_problem(key):
    """Why ``key`` is not a Kubernetes label key ([prefix/]name), or None."""
    if not isinstance(key, str):
        return "is not a string"
    prefix, _slash, name = key.rpartition("/")
    if "/" in key and not (prefix and len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)):
        return "has a prefix that is not a DNS-1123 subdomain"
    return None if _matches(_LABEL_NAME, name, 63) else "is not a label name (at most 63 of letters, digits, '-', '_', '.')"


def label_value_problem(value):
    """Why ``value`` is not a Kubernetes label value, or None."""
    if not isinstance(value, str):
        return "is not a string (quote it)"
    if value == "" or _matches(_LABEL_NAME, value, 63):
        return None
    return "is not a label value (at most 63 of letters, digits, '-', '_', '.')"


def labels(value, workload):
    """Kubernetes labels: keys [prefix/]name, values at most 63 of letters, digits, '-', '_', '.'"""
    for key, label in value.items():
        problem = label_key_problem(key)
        if problem:
            return "has key %r that %s" % (key, problem)
        problem = label_value_problem(label)
        if problem:
            return "has value %r for %r that %s" % (label, key, problem)
    return None


def settings(value, workload):
    """server settings: names ^[a-z_][a-z0-9_.]*$, values strings, numbers or booleans without newlines"""
    for name, setting in value.items():
        if not isinstance(name, str) or not _SETTING_NAME.match(name) or len(name) > 63:
            return "has name %r that is not a server setting name" % (name,)
        if name in _CONF_DIRECTIVES:
            return "has %r, a postgresql.conf directive that reads other files, not a setting" % name
        if isinstance(setting, (dict, list)) or setting is None:
            return "has a %s for %r, not a string, number or boolean" % (type(setting).__name__, name)
        if _CONTROL.search(str(setting)):
            return "has a newline or another control character in the value of %r" % name
    return None
