"""A clock the tests move by hand: call it for the time, ``sleep`` advances it."""

from __future__ import annotations


class FakeClock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
