# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Defaults of catalog fields that follow from other fields of the workload (schema.py names them per field)."""

from __future__ import annotations

DEFAULT_VERSIONS = {"postgresql": "18", "rabbitmq": "3.10", "mongodb": "7.0"}
DEFAULT_IMAGES = {"postgresql": "postgres:{version}-alpine", "rabbitmq": "rabbitmq:{version}-management", "mongodb": "mongo:{version}"}
PASSWORD_KEYS = {"postgresql": "postgres-password", "rabbitmq": "rabbitmq-password", "mongodb": "mongodb-root-password"}


def version(workload):
    return DEFAULT_VERSIONS[workload["engine"]]


def image(workload):
    return DEFAULT_IMAGES[workload["engine"]].format(version=workload["version"])


def password_key(workload):
    return PASSWORD_KEYS[workload["engine"]]


def databases(workload):
    return [workload["name"].replace("-", "_")]


def source_database(workload):
    """The first of source.databases when it lists them, else the target's first database."""
    listed = workload["source"].get("databases")
    if isinstance(listed, list) and listed:
        return listed[0]
    return workload["databases"][0]["name"] if workload.get("databases") else None


def s3_prefix(workload):
    return "%s/%s" % (workload["namespace"], workload["service_name"])
