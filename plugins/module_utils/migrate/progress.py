# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress of a table copy: tables and bytes done, rate and ETA, printed every few seconds.

Bytes are the source's on-disk table sizes. A table in flight counts by the share of its rows (of its parts not
done yet) pg_stat_progress_copy has seen, so a single large table shows progress too. It is read on the source (a
PostgreSQL 14 or newer): its COPY TO of each part names the table in its query. Reading it there costs an ssh, not a
third ``kubectl exec`` (~50 MB on the controller) beside the copy's streams; older sources are read on the target.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time

PROGRESS_COPY_SQL = """
SELECT coalesce(json_object_agg(name, tuples), '{}'::json) FROM (
  SELECT n.nspname || '.' || c.relname AS name, sum(p.tuples_processed) AS tuples
  FROM pg_stat_progress_copy p JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE p.command = 'COPY FROM' GROUP BY 1) copies
"""


# Rows sent so far by each of the source's COPY TO of a part (pg/sql.py copy_out_sql), by the table its query reads.
SOURCE_PROGRESS_COPY_SQL = """
SELECT coalesce(json_object_agg(name, tuples), '{}'::json) FROM (
  SELECT substring(a.query FROM '^COPY \\(SELECT .* FROM ONLY (.+?)(?: WHERE ctid .*)?\\) TO STDOUT$') AS name,
         sum(p.tuples_processed) AS tuples
  FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid
  WHERE p.command = 'COPY TO' AND p.datname = current_database() AND p.pid <> pg_backend_pid()
  GROUP BY 1) copies WHERE name IS NOT NULL
"""
SOURCE_PROGRESS_MIN_VERSION = 140000  # pg_stat_progress_copy
_IDENTIFIER = r'"(?:[^"]|"")*"|[^".\s]+'
_QUALIFIED = re.compile(r"(%s)\.(%s)" % (_IDENTIFIER, _IDENTIFIER))


def table_key(qualified):
    """'schema.name' (the key parts have) of a quoted qualified name as pg/sql.py qualified() writes it; None if not one."""
    found = _QUALIFIED.fullmatch(qualified.strip())
    if not found:
        return None
    return ".".join(part[1:-1].replace('""', '"') if part.startswith('"') else part for part in found.groups())


def by_table_key(tuples_by_qualified):
    """{table key: rows} from the source's answer to SOURCE_PROGRESS_COPY_SQL."""
    rows = {}
    for qualified, tuples in tuples_by_qualified.items():
        key = table_key(qualified)
        if key is not None:
            rows[key] = rows.get(key, 0) + tuples
    return rows


def human_bytes(count):
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= 1024
    return "%.1f TiB" % value


def human_seconds(seconds):
    seconds = round(seconds)
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % divmod(seconds, 60)
    hours, rest = divmod(seconds, 3600)
    return "%dh%02dm" % (hours, rest // 60)


class CopyProgress:
    """parts: [{'key': 'schema.name' (unquoted) or a part's key, 'size_bytes': n, 'rows_estimate': n, 'table': {'key': ...}
    (the part's table; a whole table may leave it out)}]. Tables are counted done when all their parts are."""

    def __init__(self, label, parts, emit, poll=None, interval=5.0, clock=time.monotonic, describe=None):
        """``describe()``: the engine's own account of the copy so far (a copy not made of tables), or None."""
        self.label, self.emit, self.poll, self.interval, self.clock = label, emit, poll, interval, clock
        self.describe = describe
        self.parts = {part["key"]: part for part in parts}
        self.parts_of = {}
        for part in parts:
            self.parts_of.setdefault(_table_key(part), set()).add(part["key"])
        self.total = sum(part["size_bytes"] for part in parts)
        self.done, self.in_flight = set(), {}
        self.started = clock()
        self.lock = threading.Lock()
        self.ticker = None

    def table_done(self, key):
        """``key``: the part's (a whole table's is the table's)."""
        with self.lock:
            self.done.add(key)
            table = _table_key(self.parts[key])
            if self.parts_of[table] <= self.done:
                self.in_flight.pop(table, None)

    def update_in_flight(self, tuples_by_table):
        with self.lock:
            self.in_flight = {key: tuples for key, tuples in tuples_by_table.items() if self.parts_of.get(key, set()) - self.done}

    def bytes_done(self):
        with self.lock:
            done = sum(self.parts[key]["size_bytes"] for key in self.done)
            for table, tuples in self.in_flight.items():
                left = [self.parts[key] for key in self.parts_of[table] - self.done]
                rows, size = sum(part["rows_estimate"] for part in left), sum(part["size_bytes"] for part in left)
                if rows:
                    done += size * min(1.0, float(tuples) / rows)
            return int(done)

    def tables_done(self):
        with self.lock:
            return sum(1 for keys in self.parts_of.values() if keys <= self.done)

    def line(self):
        elapsed = max(self.clock() - self.started, 1e-6)
        told = self.describe() if self.describe is not None else None
        if told:
            return "%s: %s, %s elapsed" % (self.label, told, human_seconds(elapsed))
        done = self.bytes_done()
        rate = done / elapsed
        percent = 100.0 * done / self.total if self.total else 100.0
        eta = "ETA %s" % human_seconds((self.total - done) / rate) if rate > 0 and done < self.total else "ETA -"
        return "%s: %d/%d tables, %s of %s (%.0f%%), %s/s, %s elapsed, %s" % (
            self.label, self.tables_done(), len(self.parts_of), human_bytes(done), human_bytes(self.total), percent,
            human_bytes(rate), human_seconds(elapsed), eta)

    def _tick(self):
        if self.poll is not None:
            with contextlib.suppress(Exception):  # a missed progress poll must never fail the copy
                self.update_in_flight(self.poll())
        self.emit(self.line())

    def __enter__(self):
        self.ticker = Ticker(self.interval, self._tick).__enter__()
        return self

    def __exit__(self, *exc):
        return self.ticker.__exit__(*exc)


def _table_key(part):
    return (part.get("table") or part)["key"]


class Ticker:
    """Calls report() every interval seconds while the with-block runs; a failed report is skipped."""

    def __init__(self, interval, report):
        self.interval, self.report, self.stop = interval, report, threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.stop.wait(self.interval):
            with contextlib.suppress(Exception):
                self.report()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)
        return False
