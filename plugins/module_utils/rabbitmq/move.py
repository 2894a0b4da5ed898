# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a broker: both brokers of a workload opened for its migration, and its topology copied from the old one.

The old broker is read (``rabbitmqctl export_definitions -`` in its container over SSH) and never changed here; the
new one gets what it lacks of the old one's queues, exchanges, bindings and policies, in the catalog's vhosts.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sources import DockerOverSsh, ssh_target
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import topology
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.broker import Broker, BrokerError, ContainerBroker

AMQP_PORT = 5672


@contextlib.contextmanager
def brokers(workload, kubectl, connection, inventory_name):
    """(old ContainerBroker, new Broker) of ``workload``; the old one over the task host's SSH settings."""
    control_dir = tempfile.mkdtemp(prefix="stateshift-ssh-")
    try:
        ssh = ssh_target(connection, inventory_name, control_dir)
        side = DockerOverSsh(ssh, workload["source"]["container"], None, address=workload["source"].get("address"),
                             container_port=AMQP_PORT)
        side.label = "old broker '%s' on %s" % (workload["source"]["container"], side.where())
        yield ContainerBroker(side), Broker(kubectl, workload["objects"]["primary_pod"], workload["objects"]["container"])
    finally:
        shutil.rmtree(control_dir, ignore_errors=True)


def addresses(old):
    """Where the new broker's pod may reach the old broker's AMQP port: source.address, else what Docker reports."""
    try:
        return old.side.address_candidates()
    except SideError as exc:
        raise BrokerError(str(exc)) from None


def new_export(new):
    try:
        return new.export()
    except BrokerError as exc:
        raise BrokerError("the StatefulSet's broker does not answer (%s): run the databases phase first" % exc) from None


def move_topology(old, new, workload, check_mode, timeout=60):
    """Import into ``new`` what it lacks of ``old``'s topology; returns the result (refuses before any change)."""
    exported = old.export()
    declared = [vhost["name"] for vhost in workload["vhosts"]]
    problems = ["%s: add it to vhosts (and to users[].vhosts) or delete it on the old broker" % text
                for text in topology.undeclared_vhosts(exported, declared)]
    present = new_export(new)
    problems += ["%s: make them the same (delete it on the StatefulSet's broker if it is empty)" % text
                 for text in topology.conflicts(exported, present)]
    if problems:
        raise topology.TopologyError("; ".join(problems))
    lacking = topology.missing(exported, present, set(declared))
    catalog_users = {user["name"] for user in workload["users"]} | {workload["auth"]["user"]}
    result = {"changed": bool(topology.count(lacking)), "imported": topology.summary(lacking), "topology": topology.summary(exported),
              "users_not_moved": topology.users_not_declared(exported, catalog_users)}
    if result["changed"] and not check_mode:
        new.import_and_wait(lacking, lambda now: not topology.count(topology.missing(exported, now, set(declared))), timeout)
    return result
