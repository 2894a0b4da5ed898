#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rabbitmq_drain
short_description: Move the messages left in an old RabbitMQ broker's queues into the workload's StatefulSet, with the shovel plugin
version_added: 0.2.0
description:
  - Runs on the controller (action plugin) for the old broker's Docker host (C(source.host)) at cutover, after the
    application services that publish and consume there are stopped.
  - Reads the depth and consumers of every queue of the catalog's C(vhosts) on both brokers. Refused before any
    change - a queue with messages that the StatefulSet's broker lacks (run M(stateshift.k3s.rabbitmq_migrate)
    first), or that still has consumers on the old broker.
  - Creates a temporary user C(stateshift-drain) on the old broker (random password, sent as a hash in imported
    definitions) and, on the StatefulSet's broker, one dynamic shovel per non-empty queue that reads the old queue
    over AMQP and publishes to the same queue. The shovels use C(ack-mode) C(on-confirm) and
    C(src-delete-after) C(queue-length) - a message leaves the old broker only after the new one confirmed it, so
    none is lost; a message is repeated only if a shovel restarts between the confirm and its ack (at least once).
  - Waits (printing progress) until every shovel ended, then removes the user and any shovel left, and verifies per
    queue that the old queue is empty and that the new one grew by exactly the messages moved. Fails naming the queue
    when messages are missing (read or expired on the new broker) or still on the old one (published during the drain).
  - The StatefulSet's pod must reach the old broker's AMQP port - C(source.address), else the addresses Docker reports
    for the container (a published port, the container's IPs), each tried by the shovel in turn. While the shovels run,
    a NetworkPolicy C(<service_name>-drain) lets the broker's pods reach those addresses on that port (its own policy
    lets it reach DNS only, C(network.restrict_egress)); it is deleted afterwards. Each connection attempt gives up after
    10 s and is tried again; a shovel still not running after 30 s with no message moved is restarted (a running one
    never is).
  - A re-run moves what is left; an interrupted drain's shovels and user are removed first.
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
    description: Reads the depths and says which queues would be drained.
  diff_mode:
    support: full
    description: The queues drained (vhost/queue).
options:
  workload:
    description: The name of a RabbitMQ workload of the validated catalog (C(stateshift_catalog)) that has a C(source).
    type: str
    required: true
  timeout:
    description: Seconds to wait for the shovels to move every message.
    type: int
    default: 600
  settle:
    description:
      - Seconds between two readings of the queue depths that must agree before the drain starts and before it is
        verified. A broker refreshes its queue statistics every C(collect_statistics_interval) (5 seconds unless
        configured), so this must be longer than that interval on both brokers.
    type: int
    default: 6
"""

EXAMPLES = r"""
- name: Drain the old broker
  stateshift.k3s.rabbitmq_drain:
    workload: bowmark
"""

RETURN = r"""
queues:
  description: The queues drained (or in check mode to drain), as vhost/queue.
  returned: success
  type: list
  elements: str
messages:
  description: Messages the old broker held in those queues when the drain started.
  returned: success
  type: int
rows:
  description:
    - Per queue - vhost, queue, old_before, old_after, new_before, new_after, moved, lost, repeated.
    - Empty in check mode.
  returned: success
  type: list
  elements: dict
guarantee:
  description: The delivery guarantee of the drain, in words.
  returned: success
  type: str
"""
