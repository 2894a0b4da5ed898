from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq import topology
from ansible_collections.stateshift.k3s.plugins.module_utils.rabbitmq.move import move_topology


def queue(name, vhost="app", **declared):
    return dict({"name": name, "vhost": vhost, "durable": True, "auto_delete": False, "arguments": {}}, **declared)


def exchange(name, vhost="app", kind="direct"):
    return {"name": name, "vhost": vhost, "type": kind, "durable": True, "auto_delete": False, "internal": False, "arguments": {}}


def binding(source, destination, vhost="app", key="k"):
    return {"source": source, "vhost": vhost, "destination": destination, "destination_type": "queue", "routing_key": key, "arguments": {}}


OLD = {"users": [{"name": "guest"}, {"name": "app"}],
       "queues": [queue("orders"), queue("mail", arguments={"x-queue-type": "quorum"}), queue("stats", vhost="reports")],
       "exchanges": [exchange("events", kind="topic"), exchange("amq.direct"), exchange("")],
       "bindings": [binding("events", "orders")],
       "policies": [{"vhost": "app", "name": "ttl", "pattern": "^mail$", "apply-to": "queues", "definition": {"message-ttl": 1000},
                     "priority": 0}]}


def test_the_new_broker_gets_what_it_lacks_in_the_declared_vhosts():
    lacking = topology.missing(OLD, {"queues": [queue("orders")]}, {"app"})
    assert [q["name"] for q in lacking["queues"]] == ["mail"]
    assert [e["name"] for e in lacking["exchanges"]] == ["events"]
    assert len(lacking["bindings"]) == 1 and len(lacking["policies"]) == 1
    assert topology.summary(lacking)["bindings"] == ["app/events->orders"]


def test_nothing_is_lacking_once_imported():
    assert topology.count(topology.missing(OLD, OLD, {"app", "reports"})) == 0


def test_a_vhost_with_topology_that_the_catalog_does_not_declare_is_named():
    assert topology.undeclared_vhosts(OLD, ["app"]) == ["vhost reports holds queue stats"]
    assert topology.undeclared_vhosts({"exchanges": [exchange("amq.topic", vhost="/")]}, ["app"]) == []


@pytest.mark.parametrize(("twin", "expected"), [
    ({"queues": [queue("mail")]}, "queue mail on vhost app differs in arguments"),
    ({"queues": [queue("orders", durable=False)]}, "queue orders on vhost app differs in durable"),
    ({"exchanges": [exchange("events", kind="direct")]}, "exchange events on vhost app differs in type"),
])
def test_a_queue_or_exchange_declared_differently_is_a_conflict(twin, expected):
    assert topology.conflicts(OLD, twin) == [expected]


class Exporter:
    def __init__(self, document):
        self.document, self.imported = document, []
        self.where = "a broker"

    def export(self):
        return self.document

    def import_and_wait(self, document, settled, timeout):
        self.imported.append(document)
        for kind in topology.KINDS:
            self.document.setdefault(kind, []).extend(document[kind])
        assert settled(self.document)


WORKLOAD = {"vhosts": [{"name": "app"}, {"name": "reports"}], "users": [{"name": "app"}], "auth": {"user": "admin"}}


def test_move_imports_once_and_reports_the_users_it_leaves():
    new = Exporter({})
    first = move_topology(Exporter(OLD), new, WORKLOAD, check_mode=False)
    assert first["changed"] and first["users_not_moved"] == ["guest"]
    assert first["imported"]["queues"] == ["app/mail", "app/orders", "reports/stats"]
    again = move_topology(Exporter(OLD), new, WORKLOAD, check_mode=False)
    assert not again["changed"] and len(new.imported) == 1


def test_move_in_check_mode_imports_nothing():
    new = Exporter({})
    assert move_topology(Exporter(OLD), new, WORKLOAD, check_mode=True)["changed"]
    assert new.imported == []


def test_move_refuses_an_undeclared_vhost_before_any_change():
    new = Exporter({})
    with pytest.raises(topology.TopologyError, match="vhost reports holds queue stats: add it to vhosts"):
        move_topology(Exporter(OLD), new, dict(WORKLOAD, vhosts=[{"name": "app"}]), check_mode=False)
    assert new.imported == []
