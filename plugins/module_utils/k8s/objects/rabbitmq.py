# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Kubernetes object of a RabbitMQ workload, built as data from the validated catalog entry.

The broker reads its users, vhosts and permissions from a definitions file at boot (``load_definitions``);
that file is a Secret (it holds password hashes) that the rabbitmq_definitions module writes, so it is
not among these objects. One node, named rabbit@localhost: its data directory keeps that name whatever
pod or address it runs on.
"""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import network
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import workload as workload_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.meta import namespaced
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.pod import database_pod_spec, secret_variable, server_container
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.workload import disruption_budget, namespace, service

PORTS = {"amqp": 5672, "management": 15672}
HOME = "/var/lib/rabbitmq"
CONFIG_DIR = "/etc/rabbitmq/stateshift"
DEFINITIONS_DIR = "/etc/rabbitmq/definitions"
DEFINITIONS_FILE = "definitions.json"
PLUGINS = ("rabbitmq_management", "rabbitmq_shovel", "rabbitmq_shovel_management")
# The Erlang cookie comes from the Secret as a variable; the nodes and CLI tools read it from a file only its owner reads.
START = ('set -eu; rm -f "$HOME/.erlang.cookie"; (umask 077; printf %s "$STATESHIFT_ERLANG_COOKIE" > "$HOME/.erlang.cookie"); '
         'unset STATESHIFT_ERLANG_COOKIE; exec rabbitmq-server')
PING = ["rabbitmq-diagnostics", "-q", "ping"]
STATUS = ["rabbitmq-diagnostics", "-q", "status"]


def rabbitmq_objects(workload, uid=999, claim_size=None, namespace_labels=None):
    """The objects of ``workload`` (a validated catalog entry), in the order they are applied."""
    return [
        namespace(workload, namespace_labels),
        config_map(workload),
        service(workload, PORTS, headless=True),
        service(workload, PORTS, headless=False),
        statefulset(workload, uid, claim_size or workload["storage"]["size"]),
        disruption_budget(workload),
        network.policy(workload, PORTS.values()),
    ]


def rabbitmq_conf(settings):
    """rabbitmq.conf: the definitions file, then the catalog's settings (validated: one line each)."""
    lines = ["load_definitions = %s/%s" % (DEFINITIONS_DIR, DEFINITIONS_FILE), "loopback_users = none"]
    lines += ["%s = %s" % (name, str(value).lower() if isinstance(value, bool) else value) for name, value in sorted(settings.items())]
    return "\n".join(lines) + "\n"


def config_map(workload):
    result = namespaced("v1", "ConfigMap", workload["objects"]["config_map"], workload)
    result["data"] = {"rabbitmq.conf": rabbitmq_conf(workload["settings"]), "enabled_plugins": "[%s].\n" % ",".join(PLUGINS)}
    return result


def definitions_secret(workload, definitions):
    """The Secret the broker loads its definitions from (rabbitmq_definitions builds ``definitions``)."""
    result = namespaced("v1", "Secret", workload["objects"]["definitions_secret"], workload)
    result.update(type="Opaque", stringData={DEFINITIONS_FILE: json.dumps(definitions, indent=1, sort_keys=True)})
    return result


def probe(command, period, failures):
    # rabbitmq-diagnostics starts an Erlang VM of its own: under load it needs the 10 s users learned to give it.
    return {"exec": {"command": list(command)}, "periodSeconds": period, "timeoutSeconds": 10, "failureThreshold": failures}


def container(workload):
    auth = workload["auth"]
    result = server_container(workload, START, PORTS, [
        {"name": "HOME", "value": HOME}, {"name": "RABBITMQ_NODENAME", "value": "rabbit@localhost"},
        {"name": "RABBITMQ_CONFIG_FILE", "value": "%s/rabbitmq.conf" % CONFIG_DIR},
        {"name": "RABBITMQ_ENABLED_PLUGINS_FILE", "value": "%s/enabled_plugins" % CONFIG_DIR},
        {"name": "RABBITMQ_LOGS", "value": "-"},
        secret_variable("STATESHIFT_ERLANG_COOKIE", auth["secret"], auth["cookie_key"])])
    result.update(startupProbe=probe(PING, 5, 60), readinessProbe=probe(PING, 10, 3), livenessProbe=probe(STATUS, 30, 6),
                  volumeMounts=[{"name": "data", "mountPath": HOME}, {"name": "config", "mountPath": CONFIG_DIR},
                                {"name": "definitions", "mountPath": DEFINITIONS_DIR}])
    return result


def statefulset(workload, uid, claim_size):
    objects = workload["objects"]
    volumes = [{"name": "config", "configMap": {"name": objects["config_map"]}},
               {"name": "definitions", "secret": {"secretName": objects["definitions_secret"], "defaultMode": 0o400}}]
    return workload_objects.statefulset(workload, database_pod_spec(uid, [container(workload)], volumes), claim_size,
                                        config_map(workload)["data"])
