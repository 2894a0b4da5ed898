#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rabbitmq_migrate
short_description: Copy an old RabbitMQ broker's queues, exchanges, bindings and policies into the workload's StatefulSet
version_added: 0.2.0
description:
  - Runs on the controller (action plugin) for the old broker's Docker host (the workload's C(source.host)), over that
    host's SSH settings, and exports the old broker's definitions with C(rabbitmqctl export_definitions -) in its
    container (C(source.container)). The old broker is only read.
  - Imports into the StatefulSet's broker (C(rabbitmqctl import_definitions) in its pod, over stdin) the queues,
    exchanges, bindings and policies it lacks, in the catalog's C(vhosts), and waits until it has them. A re-run
    imports nothing.
  - Users and permissions are the catalog's (C(users), passwords from the workload's Secret, written by
    M(stateshift.k3s.rabbitmq_definitions)); the old broker's other users are listed in RV(users_not_moved), not moved.
  - Refused before any change, with the fix - a vhost of the old broker that holds queues, exchanges or policies but
    is not declared in C(vhosts); a queue or exchange both brokers declare differently (durability, type, arguments);
    a StatefulSet broker that does not answer.
  - Messages are not copied here; M(stateshift.k3s.rabbitmq_drain) moves them at cutover.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
requirements:
  - kubectl and ssh on the controller; docker and the old broker's container on the source host (RabbitMQ 3.9 or later).
attributes:
  check_mode:
    support: full
    description: Exports and compares; imports nothing.
  diff_mode:
    support: full
    description: The queues, exchanges, bindings and policies that are (or would be) imported.
options:
  workload:
    description: The name of a RabbitMQ workload of the validated catalog (C(stateshift_catalog)) that has a C(source).
    type: str
    required: true
  import_timeout:
    description: Seconds to wait for the StatefulSet's broker to apply the imported definitions.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Copy the old broker's topology
  stateshift.k3s.rabbitmq_migrate:
    workload: bowmark
"""

RETURN = r"""
imported:
  description: What was (or in check mode would be) imported, by kind (queues, exchanges, bindings, policies), as vhost/name.
  returned: success
  type: dict
topology:
  description: The old broker's queues, exchanges, bindings and policies, by kind, as vhost/name.
  returned: success
  type: dict
users_not_moved:
  description: Users of the old broker the catalog does not declare; they do not exist on the StatefulSet's broker.
  returned: success
  type: list
  elements: str
"""
