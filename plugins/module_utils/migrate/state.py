# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one run gathers as it goes: progress output, per-phase timings, notes, the Job's pod."""

from __future__ import annotations

import datetime
import time


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunState:
    """ctx: the frozen MigrationContext; emit(line): progress output."""

    def __init__(self, ctx, emit=None):
        self.ctx, self.emit = ctx, emit or (lambda line: None)
        self.started, self.started_at = time.monotonic(), utc_now()
        self.timings, self.notes = {}, []
        self.worker_pod = None
        self.worker_created = False  # the migration Job exists; worker_pod is its pod once Ready
        self.roles = None

    def timed(self, phase, fn, *args):
        """Run one phase: say that it starts, record how long it took."""
        started = time.monotonic()
        self.emit("%s: %s ..." % (self.ctx.label, phase))
        try:
            return fn(*args)
        finally:
            self.timings[phase] = round(time.monotonic() - started, 2)

    def duration(self):
        return round(time.monotonic() - self.started, 2)
