from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.retire import watch
from tests.unit.plugins.module_utils.fake_clock import FakeClock


class Source:
    def __init__(self, answers):
        self.answers, self.asked = list(answers), 0

    def source_json(self, query, what):
        self.asked += 1
        answer = self.answers.pop(0) if self.answers else []
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_sessions_are_looked_at_every_interval_until_the_window_ends():
    clock, engine = FakeClock(), Source([[], [{"pid": 7}]])
    samples = watch.source_sessions(engine, 5, interval=1.0, clock=clock, sleep=clock.sleep)
    assert len(samples) == 6 and samples[1] == [{"pid": 7}] and clock.now == 5.0


def test_a_source_that_stops_answering_gives_the_error():
    clock = FakeClock()
    engine = Source([[], SideError("ssh legacy-vm: docker exec shop-db: no such container")])
    assert "no such container" in watch.source_sessions(engine, 5, clock=clock, sleep=clock.sleep)
