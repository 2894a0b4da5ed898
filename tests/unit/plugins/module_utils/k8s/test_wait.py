"""wait_for's control flow, with a scripted API in place of the server (the real watch is
exercised against the lab cluster by the postgresql Molecule scenario and the readiness benchmark)."""

from __future__ import annotations

from urllib3.exceptions import ProtocolError

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.wait import wait_for
from tests.unit.plugins.module_utils.fake_clock import FakeClock


class ScriptedResource:
    def __init__(self, objects):
        self.objects = list(objects)
        self.gets = 0

    def get(self, namespace, name):
        self.gets += 1
        return self.objects.pop(0)


class ScriptedWatch:
    """Each call to watch() plays the next script: a list of events, or an exception to raise."""

    def __init__(self, scripts, clock, step=1.0):
        self.scripts = list(scripts)
        self.clock = clock
        self.step = step
        self.calls = []

    def watch(self, resource, namespace, name, resource_version, timeout):
        self.calls.append(resource_version)
        script = self.scripts.pop(0) if self.scripts else []
        if isinstance(script, Exception):
            raise script
        for event in script:
            self.clock.now += self.step
            yield event
        self.clock.now += timeout


def obj(version, ready):
    return {"metadata": {"resourceVersion": str(version)}, "ready": ready}


def evaluate(o):
    return {"ready": bool(o and o["ready"])}


def test_ready_on_the_first_get_does_not_watch():
    clock = FakeClock()
    watch = ScriptedWatch([], clock)
    outcome = wait_for(watch, ScriptedResource([obj(1, True)]), "ns", "n", evaluate, 10, clock=clock, sleep=clock.sleep)
    assert outcome[0] and watch.calls == []


def test_readiness_is_seen_from_the_watch_starting_at_the_got_version():
    clock = FakeClock()
    watch = ScriptedWatch([[{"type": "MODIFIED", "raw_object": obj(2, False)}, {"type": "MODIFIED", "raw_object": obj(3, True)}]], clock)
    ready, state, final, waited = wait_for(watch, ScriptedResource([obj(1, False)]), "ns", "n", evaluate, 60, clock=clock,
                                           sleep=clock.sleep)
    assert ready and state["ready"] and final["metadata"]["resourceVersion"] == "3"
    assert watch.calls == ["1"]
    assert waited == 2.0


def test_a_broken_stream_is_resumed_with_a_fresh_get():
    clock = FakeClock()
    watch = ScriptedWatch([ProtocolError("Response ended prematurely"), [{"type": "MODIFIED", "raw_object": obj(5, True)}]], clock)
    resource = ScriptedResource([obj(1, False), obj(4, False)])
    outcome = wait_for(watch, resource, "ns", "n", evaluate, 60, clock=clock, sleep=clock.sleep)
    assert outcome[0]
    assert resource.gets == 2 and watch.calls == ["1", "4"]


def test_deleted_objects_are_not_ready_and_timeout_is_reported():
    clock = FakeClock()
    watch = ScriptedWatch([[{"type": "DELETED", "raw_object": obj(2, True)}]], clock)
    ready, state, final, seconds = wait_for(watch, ScriptedResource([obj(1, False)]), "ns", "n", evaluate, 5,
                                            clock=clock, sleep=clock.sleep)
    assert not ready and final is None and state == {"ready": False}
    assert seconds >= 5
