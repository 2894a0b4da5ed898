from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import drain


def depth(messages, consumers=0):
    return {"messages": messages, "consumers": consumers}


def test_only_queues_with_messages_are_drained():
    queues, problems = drain.plan({("app", "orders"): depth(3), ("app", "empty"): depth(0)},
                                  {("app", "orders"): depth(0), ("app", "empty"): depth(0)})
    assert queues == [("app", "orders")] and problems == []


def test_a_queue_missing_on_the_new_broker_or_still_consumed_is_refused():
    _queues, problems = drain.plan({("app", "orders"): depth(3), ("app", "mail"): depth(1, consumers=2)},
                                   {("app", "mail"): depth(0)})
    assert problems == ["queue mail on vhost app of the old broker has 2 consumer(s): stop them (list them in source.compose_services) "
                        "so no message is read there during the drain",
                        "queue orders on vhost app (3 messages) is not on the StatefulSet's broker: run the migrate phase "
                        "(rabbitmq_migrate) first"]


def test_uris_quote_the_vhost_and_the_credentials():
    assert drain.amqp_uri("10.0.0.5", 5672, "/", "stateshift-drain", "a/b@c") == "amqp://stateshift-drain:a%2Fb%40c@10.0.0.5:5672/%2F"
    assert drain.amqp_uri(None, None, "app") == "amqp:///app"
    assert drain.amqp_uri("fd00::5", 5672, "app", "u", "p") == "amqp://u:p@[fd00::5]:5672/app"


def test_each_shovel_confirms_before_it_acks_and_ends_after_the_queue_length():
    document = drain.shovels([("app", "orders")], [("10.0.0.5", 5672), ("192.0.2.1", 5672)], "pw")
    (parameter,) = document["parameters"]
    assert parameter["name"] == "stateshift-drain-orders" and parameter["component"] == "shovel"
    value = parameter["value"]
    assert value["ack-mode"] == "on-confirm" and value["src-delete-after"] == "queue-length"
    assert value["src-uri"] == ["amqp://stateshift-drain:pw@10.0.0.5:5672/app?connection_timeout=10000",
                                "amqp://stateshift-drain:pw@192.0.2.1:5672/app?connection_timeout=10000"]
    assert value["dest-uri"] == "amqp:///app" and value["dest-queue"] == value["src-queue"] == "orders"


def test_the_drain_user_gets_a_hash_not_the_password():
    document = drain.drain_user("secret-pw", {"app"})
    assert "secret-pw" not in repr(document)
    assert document["permissions"] == [{"user": "stateshift-drain", "vhost": "app", "configure": ".*", "write": ".*", "read": ".*"}]


@pytest.mark.parametrize(("new_after", "old_after", "lost", "repeated", "problem"), [
    (7, 0, 0, 0, None),
    (8, 0, 0, 1, None),
    (5, 0, 2, 0, "2 of the 5 messages moved are not on the StatefulSet's broker"),
    (6, 1, 0, 0, "1 messages are still on the old broker"),
])
def test_depths_must_add_up(new_after, old_after, lost, repeated, problem):
    queue = ("app", "orders")
    (row,) = drain.verify([queue], {queue: depth(5)}, {queue: depth(2)}, {queue: depth(old_after)}, {queue: depth(new_after)})
    assert (row["lost"], row["repeated"]) == (lost, repeated)
    problems = drain.problems_of([row])
    assert (problems == []) if problem is None else (problem in problems[0])


class Double:
    """A broker as far as Drain uses it: queue depths, users, shovel parameters (a shovel moves its queue at once)."""

    def __init__(self, queues, where):
        self.depth, self.users_, self.shovels, self.where = dict(queues), set(), {}, where
        self.peer = None

    def queues(self, vhost):
        return {name: depth(count) for (v, name), count in self.depth.items() if v == vhost}

    def users(self):
        return sorted(self.users_)

    def delete_user(self, name):
        self.users_.discard(name)

    def parameters(self, vhost, component):
        return [name for (v, name) in self.shovels if v == vhost]

    def clear_parameter(self, vhost, component, name):
        self.shovels.pop((vhost, name), None)

    def shovel_states(self):
        return {}

    def import_definitions(self, document):
        self.users_.update(user["name"] for user in document.get("users", []))
        for parameter in document.get("parameters", []):
            queue = (parameter["vhost"], parameter["value"]["src-queue"])
            self.depth[queue] += self.peer.depth[queue]
            self.peer.depth[queue] = 0


def test_a_drain_moves_everything_cleans_up_and_a_rerun_changes_nothing():
    old = Double({("app", "orders"): 4, ("app", "idle"): 0}, "old")
    new = Double({("app", "orders"): 1, ("app", "idle"): 0}, "new")
    new.peer = old
    lines = []
    first = drain.Drain(old, new, ["app"], [("10.0.0.5", 5672)], lines.append, poll=0, settle=0).run(check_mode=False)
    assert first["changed"] and first["messages"] == 4 and first["queues"] == ["app/orders"]
    assert first["rows"][0]["moved"] == 4 and first["rows"][0]["new_after"] == 5
    assert old.users() == [] and new.shovels == {}
    assert not drain.Drain(old, new, ["app"], [("10.0.0.5", 5672)], lines.append, poll=0, settle=0).run(check_mode=False)["changed"]


def test_a_drain_needs_an_address_of_the_old_broker():
    old, new = Double({("app", "orders"): 4}, "old"), Double({("app", "orders"): 0}, "new")
    with pytest.raises(drain.DrainError, match=r"set source\.address"):
        drain.Drain(old, new, ["app"], [], print, settle=0).run(check_mode=False)


class Changing(Double):
    def queues(self, vhost):
        self.depth[("app", "orders")] += 1
        return super().queues(vhost)


def test_depths_are_read_until_two_readings_agree_and_a_busy_queue_is_refused():
    assert drain.settled_depths(Double({("app", "orders"): 3}, "old"), ["app"], 0) == {("app", "orders"): depth(3)}
    with pytest.raises(drain.DrainError, match="kept changing"):
        drain.settled_depths(Changing({("app", "orders"): 3}, "old"), ["app"], 0)


class Stuck(Double):
    """A new broker whose shovels stay ``starting`` (their first connection hangs) until they are restarted."""

    def __init__(self, queues, where, stuck_states):
        super().__init__(queues, where)
        self.states, self.restarted, self.pending = list(stuck_states), [], []

    def import_definitions(self, document):
        self.pending = [(parameter["vhost"], parameter["name"], parameter["value"]["src-queue"]) for parameter in document["parameters"]]
        for vhost, name, _queue in self.pending:
            self.shovels[(vhost, name)] = True

    def shovel_states(self):
        state = self.states.pop(0) if self.states else "starting"
        return {(vhost, name): state for vhost, name, _queue in self.pending}

    def restart_shovel(self, vhost, name):
        self.restarted.append((vhost, name))
        for pending_vhost, pending_name, queue in list(self.pending):
            if (pending_vhost, pending_name) == (vhost, name):
                self.depth[(vhost, queue)] += self.peer.depth[(vhost, queue)]
                self.peer.depth[(vhost, queue)] = 0
                self.shovels.pop((vhost, name))
                self.pending.remove((pending_vhost, pending_name, queue))


def test_a_shovel_that_stays_connecting_is_restarted_and_the_drain_finishes():
    old = Double({("app", "orders"): 4}, "old")
    new = Stuck({("app", "orders"): 0}, "new", ["starting"])
    new.peer = old
    lines = []
    done = drain.Drain(old, new, ["app"], [("10.0.0.5", 5672)], lines.append, poll=0, settle=0, stall=0).run(check_mode=False)
    assert new.restarted == [("app", "stateshift-drain-orders")]
    assert done["rows"][0]["moved"] == 4 and done["rows"][0]["new_after"] == 4
    assert "restarting shovel stateshift-drain-orders on vhost app: starting for 0s with no message moved" in lines


def test_a_running_shovel_is_never_restarted():
    old = Double({("app", "orders"): 4}, "old")
    new = Stuck({("app", "orders"): 0}, "new", ["running"] * 1000)
    new.peer = old
    with pytest.raises(drain.DrainError, match=r"did not finish within 0\.05s"):
        drain.Drain(old, new, ["app"], [("10.0.0.5", 5672)], print, timeout=0.05, poll=0.001, settle=0, stall=0).run(check_mode=False)
    assert new.restarted == []
