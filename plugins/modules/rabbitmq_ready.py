#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rabbitmq_ready
short_description: Check that a RabbitMQ workload's broker runs, has its vhosts and lets each user log in
version_added: 0.2.0
description:
  - Waits until the broker in the workload's pod is running with no local alarm (C(rabbitmq-diagnostics
    check_running), C(check_local_alarms)), then checks that every vhost of the catalog exists and that the
    administrator and every user of the catalog log in over AMQP 0-9-1 with the password in the workload's
    Secret, opening their first vhost - a real client login through C(kubectl port-forward), not only a
    look at the user list.
  - Fails naming what is wrong - the failed check's output, the missing vhosts, each user the broker refused
    and its reason (403 ACCESS_REFUSED, 530 NOT_ALLOWED) - and what to do.
  - A pod that is Ready only says C(rabbitmq-diagnostics ping) succeeded; this says clients can use it.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
  - stateshift.k3s.catalog_workload
  - stateshift.k3s.k8s_read_only
options:
  timeout:
    description: Seconds to wait for the node to run with no alarm.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Check the broker serves its users
  stateshift.k3s.rabbitmq_ready:
    workload: "{{ ansible_facts['stateshift_catalog'] | selectattr('name', 'equalto', 'bowmark') | first }}"
"""

RETURN = r"""
vhosts:
  description: The broker's vhosts.
  returned: success
  type: list
  elements: str
logins:
  description: Each user the catalog names and the vhost it logged in to (null for a user without vhosts).
  returned: success
  type: dict
attempts:
  description: How many times the health checks ran.
  returned: always
  type: int
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import Cluster, ClusterError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s import workload_module
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import PodExecError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.rabbitmq import PORTS
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.port_forward import PortForwardError, forwarded
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import amqp
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.broker import Broker, BrokerError
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.definitions import users_of

RETRY_PAUSE = 2.0


def main():
    module = AnsibleModule(argument_spec=workload_module.argument_spec(timeout=dict(type="int", default=120)),
                           supports_check_mode=True)
    workload, kubectl = workload_module.workload_kubectl(module, "rabbitmq")
    where = "%s/%s" % (workload["namespace"], workload["objects"]["primary_pod"])
    with kubectl:
        broker = Broker(kubectl, workload["objects"]["primary_pod"], workload["objects"]["container"])
        try:
            attempts = wait_running(module, broker, where)
            vhosts = broker.vhosts()
            missing = [vhost["name"] for vhost in workload["vhosts"] if vhost["name"] not in vhosts]
            if missing:
                module.fail_json(msg="RabbitMQ in pod %s runs but lacks the vhost(s) %s: run the databases phase again (it imports the "
                                     "definitions into the running broker)" % (where, ", ".join(missing)), attempts=attempts, vhosts=vhosts)
            logins = log_in_each(module, workload, kubectl, attempts)
        except (BrokerError, PodExecError, PortForwardError, ClusterError) as exc:
            module.fail_json(msg=str(exc))
    module.exit_json(changed=False, attempts=attempts, vhosts=vhosts, logins=logins)


def wait_running(module, broker, where):
    deadline = time.monotonic() + module.params["timeout"]
    attempts = 0
    while True:
        attempts += 1
        failed = broker.failed_checks()
        if not failed:
            return attempts
        if time.monotonic() + RETRY_PAUSE > deadline:
            module.fail_json(msg="RabbitMQ in pod %s is not %s after %ss: %s" % (
                where, " and ".join(name for name, _output in failed), module.params["timeout"], failed[0][1]), attempts=attempts)
        time.sleep(RETRY_PAUSE)


def log_in_each(module, workload, kubectl, attempts):
    passwords = workload_module.secret_text(Cluster(kubectl).get("secret", workload["auth"]["secret"])) or {}
    logins, refused = {}, []
    with forwarded(kubectl, workload["objects"]["primary_pod"], PORTS["amqp"]) as port:
        for user in users_of(workload):
            vhost = user["vhosts"][0] if user["vhosts"] else None
            try:
                amqp.login("127.0.0.1", port, user["name"], passwords.get(user["password_key"], ""), vhost)
                logins[user["name"]] = vhost
            except (amqp.LoginRefused, OSError) as exc:
                refused.append("%s (vhost %s): %s" % (user["name"], vhost, exc))
    if refused:
        module.fail_json(msg="RabbitMQ in %s/%s refused the login of %s; run the databases phase again to bring the broker's users "
                             "up to the Secret %s" % (workload["namespace"], workload["objects"]["primary_pod"], "; ".join(refused),
                                                      workload["auth"]["secret"]), attempts=attempts, logins=logins)
    return logins


if __name__ == "__main__":
    main()
