#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rabbitmq_definitions
short_description: Write a RabbitMQ workload's definitions Secret and bring the running broker up to it
version_added: 0.2.0
description:
  - Reads the passwords of the administrator (C(auth.user)) and of every user of the catalog's C(users) from
    the workload's Secret (C(auth.secret)), builds the definitions the broker loads at boot (C(load_definitions))
    - users with C(rabbit_password_hashing_sha256) hashes and their tags, vhosts, and full permissions of each
    user on its vhosts - and writes them to the definitions Secret, server-side.
  - A hash is salted; the one the broker or the last definitions hold is kept while it still matches the
    password, so a re-run changes nothing and a rotated password is the only thing that changes a hash.
  - When the broker runs (its pod answers C(rabbitmqctl)), the definitions are imported into it as well when it
    lacks any of them - a vhost, a user whose password does not match, a tag, a permission - and the module waits
    until the broker has them. So a rotated password works before clients restart. Nothing is ever deleted -
    users, vhosts and permissions the catalog no longer names stay until removed by hand.
  - Passwords and hashes travel in the exec and kubectl streams, never on a command line, and are not returned.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
  - stateshift.k3s.catalog_workload
attributes:
  check_mode:
    support: full
    description: Reads the Secrets and the broker and says what would change; writes nothing.
  diff_mode:
    support: full
    description: The users, vhosts and permissions of the definitions before and after (no hash).
options:
  import_timeout:
    description: Seconds to wait for the running broker to apply imported definitions.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Write the definitions and update the running broker
  stateshift.k3s.rabbitmq_definitions:
    workload: "{{ ansible_facts['stateshift_catalog'] | selectattr('name', 'equalto', 'bowmark') | first }}"
"""

RETURN = r"""
secret_changed:
  description: Whether the definitions Secret was (or in check mode would be) written.
  returned: success
  type: bool
imported:
  description: What the running broker lacked and was imported (empty when it had everything or does not run yet).
  returned: success
  type: list
  elements: str
broker_running:
  description: Whether the broker answered C(rabbitmqctl) in its pod.
  returned: success
  type: bool
definitions:
  description: The users, vhosts and permissions (user@vhost) of the definitions, without hashes.
  returned: success
  type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.cluster import Cluster, ClusterError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s import workload_module
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import PodExecError
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.rabbitmq import DEFINITIONS_FILE, definitions_secret
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import definitions
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.broker import Broker, BrokerError


def main():
    module = AnsibleModule(argument_spec=workload_module.argument_spec(import_timeout=dict(type="int", default=60)),
                           supports_check_mode=True)
    workload, kubectl = workload_module.workload_kubectl(module, "rabbitmq")
    with kubectl:
        try:
            result = sync(module, workload, kubectl)
        except (ClusterError, BrokerError, PodExecError) as exc:
            module.fail_json(msg=str(exc))
    module.exit_json(**result)


def passwords_of(module, workload, cluster):
    secret = workload["auth"]["secret"]
    passwords = workload_module.secret_text(cluster.get("secret", secret))
    if passwords is None:
        keys = [user["password_key"] for user in definitions.users_of(workload)] + [workload["auth"]["cookie_key"]]
        module.fail_json(msg="Secret %s/%s does not exist: run the secrets phase (playbooks/secrets.yml) first, or create it with "
                             "the keys %s" % (workload["namespace"], secret, ", ".join(keys)))
    return passwords


def running_broker(workload, kubectl):
    """(Broker, its export) when the broker answers in its pod, else (Broker, None)."""
    broker = Broker(kubectl, workload["objects"]["primary_pod"], workload["objects"]["container"])
    try:
        return broker, broker.export()
    except (BrokerError, ValueError):
        return broker, None


def sync(module, workload, kubectl):
    cluster = Cluster(kubectl, check_mode=module.check_mode, field_manager=workload_module.FIELD_MANAGER)
    passwords = passwords_of(module, workload, cluster)
    previous_data = workload_module.secret_text(cluster.get("secret", workload["objects"]["definitions_secret"])) or {}
    previous = json.loads(previous_data[DEFINITIONS_FILE]) if DEFINITIONS_FILE in previous_data else None
    broker, exported = running_broker(workload, kubectl)
    try:
        wanted = definitions.build(workload, passwords, definitions.known_hashes(exported, previous))
    except definitions.MissingPassword as exc:
        module.fail_json(msg="Secret %s/%s has no key %s: declare it under secrets (the secrets phase writes it) or add it to the "
                             "Secret" % (workload["namespace"], workload["auth"]["secret"], exc))
    secret_changed = previous != wanted
    if secret_changed:
        cluster.apply(definitions_secret(workload, wanted))
    by_user = {user["name"]: passwords[user["password_key"]] for user in definitions.users_of(workload)}
    lacking = definitions.missing_from(exported, wanted, by_user) if exported is not None else []
    if lacking and not module.check_mode:
        broker.import_and_wait(wanted, lambda now: not definitions.missing_from(now, wanted, by_user), module.params["import_timeout"])
    result = {"changed": secret_changed or bool(lacking), "secret_changed": secret_changed, "imported": lacking,
              "broker_running": exported is not None, "definitions": definitions.summary(wanted)}
    if module._diff:  # pylint: disable=protected-access
        after = dict(result["definitions"], passwords_changed=definitions.passwords_changed(previous or {}, wanted))
        result["diff"] = {"before": definitions.summary(previous or {}), "after": after,
                          "before_header": "%s (definitions Secret)" % workload["objects"]["definitions_secret"]}
    return result


if __name__ == "__main__":
    main()
