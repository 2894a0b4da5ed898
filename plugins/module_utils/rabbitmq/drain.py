# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drain the old broker's queues into the StatefulSet's broker with the shovel plugin, and prove that the depths add up.

A dynamic shovel per non-empty queue runs on the new broker: it reads the old queue over AMQP as a temporary user
of the old broker (``stateshift-drain``, random password, deleted afterwards) and publishes to the same queue on
its own node. ``ack-mode: on-confirm`` removes a message from the old broker only after the new one confirmed it:
at least once - a message is never lost, and one is repeated only when a shovel restarts between the confirm and
its ack. ``src-delete-after: queue-length`` ends each shovel once the messages present at its start are moved.
Credentials reach the brokers only inside imported definitions (exec stdin), never on a command line.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from urllib.parse import quote

from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.broker import BrokerError
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.definitions import ALGORITHM, FULL
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.derived import rabbitmq_password_hash

DRAIN_USER = "stateshift-drain"
SHOVEL_PREFIX = "stateshift-drain-"
ACK_MODE = "on-confirm"
# A connection attempt to the old broker that hangs (for instance while the drain's egress policy is still being
# programmed) fails after this and is tried again after the shovel's reconnect-delay, within the drain's timeout.
CONNECTION_TIMEOUT_MS = 10000
# A shovel still connecting after this long, with no message moved meanwhile, is restarted.
STALL_SECONDS = 30
GUARANTEE = "at least once (ack-mode on-confirm): none lost; a message repeats only if a shovel restarts between confirm and ack"


class DrainError(Exception):
    """The drain cannot start or did not finish; the message names the queue and the fix."""


def depths(broker, vhosts):
    """{(vhost, queue): {messages, consumers}} of ``vhosts``, as the broker's statistics last said."""
    return {(vhost, name): depth for vhost in vhosts for name, depth in broker.queues(vhost).items()}


def settled_depths(broker, vhosts, settle, attempts=10):
    """The depths once two readings ``settle`` seconds apart agree. A broker publishes queue statistics every
    collect_statistics_interval (5 s by default; a quorum queue's count lags that much), so the second reading of a
    quiet queue, taken more than an interval after the first, is its true depth."""
    last = depths(broker, vhosts)
    for _attempt in range(attempts):
        time.sleep(settle)
        now = depths(broker, vhosts)
        if now == last:
            return now
        last = now
    raise DrainError("the queue depths of %s kept changing for %ss: stop what still publishes or consumes there (list its "
                     "services in source.compose_services)" % (broker.where, settle * attempts))


def plan(old, new):
    """([(vhost, queue)] to drain, [problems]) from the depths of both brokers: a queue with messages must exist on
    the new broker and have no consumer on the old one."""
    queues, problems = [], []
    for (vhost, name), depth in sorted(old.items()):
        if depth["messages"] == 0:
            continue
        if (vhost, name) not in new:
            problems.append("queue %s on vhost %s (%d messages) is not on the StatefulSet's broker: run the migrate phase "
                            "(rabbitmq_migrate) first" % (name, vhost, depth["messages"]))
        elif depth["consumers"]:
            problems.append("queue %s on vhost %s of the old broker has %d consumer(s): stop them (list them in "
                            "source.compose_services) so no message is read there during the drain" % (name, vhost, depth["consumers"]))
        else:
            queues.append((vhost, name))
    return queues, problems


def amqp_uri(host, port, vhost, user=None, password=None, connection_timeout_ms=None):
    """An AMQP 0-9-1 URI; no host means the shovel's own node. ``connection_timeout_ms`` bounds each connection attempt
    (the Erlang client's URI query parameter; its default is 60 s)."""
    credentials = "%s:%s@" % (quote(user, safe=""), quote(password, safe="")) if user else ""
    where = "" if host is None else ("[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port))
    query = "" if connection_timeout_ms is None else "?connection_timeout=%d" % connection_timeout_ms
    return "amqp://%s%s/%s%s" % (credentials, where, quote(vhost, safe=""), query)


def shovel_name(queue):
    return SHOVEL_PREFIX + queue


def drain_user(password, vhosts):
    """Definitions (for the old broker) of the temporary user the shovels read as."""
    return {"users": [{"name": DRAIN_USER, "password_hash": rabbitmq_password_hash(password), "hashing_algorithm": ALGORITHM,
                       "tags": [], "limits": {}}],
            "permissions": [dict(FULL, user=DRAIN_USER, vhost=vhost) for vhost in sorted(vhosts)]}


def shovels(queues, addresses, password):
    """Definitions (for the new broker) of one shovel per queue; ``addresses``: [(host, port)] of the old broker, tried
    in turn by the shovel when one does not answer."""
    parameters = []
    for vhost, name in queues:
        sources = [amqp_uri(host, port, vhost, DRAIN_USER, password, CONNECTION_TIMEOUT_MS) for host, port in addresses]
        parameters.append({"vhost": vhost, "component": "shovel", "name": shovel_name(name), "value": {
            "src-protocol": "amqp091", "src-uri": sources, "src-queue": name, "src-delete-after": "queue-length",
            "dest-protocol": "amqp091", "dest-uri": amqp_uri(None, None, vhost), "dest-queue": name,
            "ack-mode": ACK_MODE, "reconnect-delay": 2}})
    return {"parameters": parameters}


def verify(queues, before_old, before_new, after_old, after_new):
    """Per queue: what the old broker had and has, what the new one had and has; with lost and repeated counts."""
    rows = []
    for vhost, name in queues:
        moved = before_old[(vhost, name)]["messages"] - after_old.get((vhost, name), {"messages": 0})["messages"]
        arrived = after_new.get((vhost, name), {"messages": 0})["messages"] - before_new[(vhost, name)]["messages"]
        rows.append({"vhost": vhost, "queue": name, "old_before": before_old[(vhost, name)]["messages"],
                     "old_after": after_old.get((vhost, name), {"messages": 0})["messages"],
                     "new_before": before_new[(vhost, name)]["messages"],
                     "new_after": after_new.get((vhost, name), {"messages": 0})["messages"],
                     "moved": moved, "lost": max(moved - arrived, 0), "repeated": max(arrived - moved, 0)})
    return rows


def problems_of(rows):
    found = []
    for row in rows:
        where = "queue %s on vhost %s" % (row["queue"], row["vhost"])
        if row["old_after"]:
            found.append("%s: %d messages are still on the old broker (published during the drain?): stop its publishers and "
                         "re-run" % (where, row["old_after"]))
        if row["lost"]:
            found.append("%s: %d of the %d messages moved are not on the StatefulSet's broker: a consumer of the new broker read "
                         "them, or they expired (message TTL); look before the clients move" % (where, row["lost"], row["moved"]))
    return found


class Drain:
    """One drain of ``vhosts`` from ``old`` (ContainerBroker) into ``new`` (Broker); ``addresses``: where the new
    broker's pod reaches the old broker's AMQP port."""

    def __init__(self, old, new, vhosts, addresses, emit, timeout=600, poll=2, settle=6, path=contextlib.nullcontext,
                 stall=STALL_SECONDS):
        self.old, self.new, self.vhosts, self.addresses = old, new, sorted(vhosts), addresses
        self.emit, self.timeout, self.poll, self.settle, self.stall = emit, timeout, poll, settle, stall
        self.path = path  # a context manager factory that opens the way from the new broker's pod to the old broker

    def both_depths(self):
        return settled_depths(self.old, self.vhosts, self.settle), settled_depths(self.new, self.vhosts, self.settle)

    def leftover_shovels(self):
        return [(vhost, name) for vhost in self.vhosts for name in self.new.parameters(vhost, "shovel") if name.startswith(SHOVEL_PREFIX)]

    def clean_up(self):
        for vhost, name in self.leftover_shovels():
            self.new.clear_parameter(vhost, "shovel", name)
        if DRAIN_USER in self.old.users():
            self.old.delete_user(DRAIN_USER)

    def run(self, check_mode):
        """The result: queues drained with their rows, or what would be drained in check mode."""
        if not check_mode:
            self.clean_up()  # what an interrupted drain left: its shovels would race this one
        before_old, before_new = self.both_depths()
        queues, problems = plan(before_old, before_new)
        if problems:
            raise DrainError("; ".join(problems))
        waiting = sum(before_old[queue]["messages"] for queue in queues)
        result = {"changed": bool(queues), "queues": ["%s/%s" % queue for queue in queues], "messages": waiting, "guarantee": GUARANTEE}
        if not queues or check_mode:
            result["rows"] = []
            return result
        if not self.addresses:
            raise DrainError("no address at which the StatefulSet's broker can reach the old broker's AMQP port was found: set "
                             "source.address (host:port)")
        password = secrets.token_hex(24)
        try:
            with self.path():
                self.old.import_definitions(drain_user(password, {vhost for vhost, _name in queues}))
                self.wait_for(lambda: DRAIN_USER in self.old.users(), "the old broker to create the drain user")
                self.emit("draining %d messages from %d queue(s) of %s" % (waiting, len(queues), self.old.where))
                self.new.import_definitions(shovels(queues, self.addresses, password))
                self.wait_until_drained(queues, before_old, waiting)
        finally:
            self.clean_up()
        rows = verify(queues, before_old, before_new, *self.both_depths())
        problems = problems_of(rows)
        if problems:
            raise DrainError("; ".join(problems))
        result["rows"] = rows
        return result

    def wait_for(self, done, what):
        deadline = time.monotonic() + 60
        while not done():
            if time.monotonic() > deadline:
                raise DrainError("timed out waiting for %s" % what)
            time.sleep(1)

    def wait_until_drained(self, queues, before_old, waiting):
        deadline, last = time.monotonic() + self.timeout, None
        moved_at = time.monotonic()
        while True:
            shovels_left = set(self.leftover_shovels())
            left = sum(self.old.queues(vhost).get(name, {"messages": 0})["messages"] for vhost, name in queues)
            if not shovels_left:
                return
            if left != last:
                self.emit("moved %d of %d messages" % (waiting - min(left, waiting), waiting))
                last, moved_at = left, time.monotonic()
            elif time.monotonic() - moved_at > self.stall:
                self.restart_stalled(shovels_left)
                moved_at = time.monotonic()
            if time.monotonic() > deadline:
                states = self.new.shovel_states()
                shown = "; ".join("%s: %s" % (name, states.get((vhost, name), "not started")) for vhost, name in sorted(shovels_left))
                raise DrainError("the shovels did not finish within %ss (%d messages left on the old broker): %s; check that the "
                                 "StatefulSet's pod reaches %s (source.address)" % (
                                     self.timeout, left, shown, ", ".join("%s:%s" % address for address in self.addresses)))
            time.sleep(self.poll)

    def restart_stalled(self, shovels_left):
        """Restart the shovels that are not running (still connecting, or stopped by an error); a running one may hold
        messages confirmed but not yet acknowledged, so it is left alone."""
        states = self.new.shovel_states()
        for vhost, name in sorted(shovels_left):
            state = states.get((vhost, name))
            if state is None or state.startswith("running"):
                continue
            self.emit("restarting shovel %s on vhost %s: %s for %ss with no message moved" % (name, vhost, state, self.stall))
            try:
                self.new.restart_shovel(vhost, name)
            except BrokerError as exc:  # it may have ended meanwhile; the drain's own deadline still holds
                self.emit("could not restart shovel %s: %s" % (name, exc))
