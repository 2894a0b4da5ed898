# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The copy-back's data path: ONE psql session on the source reads one script (pg/copy_back_sql.py) from stdin, and
each table's rows are relayed into it from a ``psql -c 'COPY ... TO STDOUT'`` in the StatefulSet's pod.

Bytes pass through the controller in 1 MiB chunks, never decoded; rows are counted by their line ends (text COPY
escapes a newline inside a value). COMMIT is written only after every table's reader ended cleanly, so a reader that
fails, a source psql that fails, or a controller that dies leaves the source session without COMMIT: it rolls back.
"""

from __future__ import annotations

import contextlib
import threading
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError, describe, spawn
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.transport import CHUNK, _Deadline, _Drain, kill
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import copy_back_sql, psql


class Loader:
    """``with Loader(source, database, deadline) as loader:`` - the source's psql session; load() streams one table,
    commit() ends the script. Leaving the block without commit() kills the session, which rolls back."""

    def __init__(self, side, database, deadline):
        self.side, self.database, self.deadline = side, database, deadline
        self.process, self.errors, self.committed = None, None, False
        self.lock = threading.Lock()
        self.current = {"table": None, "rows": 0, "bytes": 0, "started": time.monotonic()}

    def __enter__(self):
        self.process = spawn(self.side.argv("psql", psql.COPY_IN_FLAGS, self.database), env=self.side.env(), stdout=False)
        self.errors = _Drain(self.process.stderr)
        self.errors.start()
        self.write(self.side.stdin_prefix())
        return self

    def __exit__(self, *exc):
        if not self.committed:
            kill(self.process)
            self.process.wait()
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        return False

    def write(self, data):
        try:
            self.process.stdin.write(data)
        except BrokenPipeError:
            rc = self.process.wait()
            raise SideError(describe(self.side, "psql (loading the copy-back)", rc, self.errors.text())) from None

    def begin(self, head):
        self.write(head)

    def load(self, reader_side, table, statements):
        """Relay one table; returns (rows, bytes). Raises SideError when either end fails (nothing is committed)."""
        args = psql.FLAGS + [part for statement in statements for part in ("-c", statement)]
        with _Deadline(self.deadline) as deadline:
            reader = deadline.watch(spawn(reader_side.argv("psql", args, self.database), env=reader_side.env()))
            try:
                reader.stdin.write(reader_side.stdin_prefix())
                reader.stdin.close()
                reader_errors = _Drain(reader.stderr)
                reader_errors.start()
                self._relay(reader, table)
                rc = reader.wait()
                deadline.check("copying %s back" % table["key"])
                if rc != 0:
                    raise SideError(describe(reader_side, "psql (COPY %s TO STDOUT)" % table["key"], rc, reader_errors.text()))
            finally:
                kill(reader)
        self.write(copy_back_sql.COPY_END)
        return self.current["rows"], self.current["bytes"]

    def _relay(self, reader, table):
        with self.lock:
            self.current = {"table": table["key"], "rows": 0, "bytes": 0, "started": time.monotonic()}
        self.write(copy_back_sql.copy_in_header(table))
        for chunk in iter(lambda: reader.stdout.read1(CHUNK), b""):
            self.write(chunk)
            with self.lock:
                self.current["rows"] += chunk.count(b"\n")
                self.current["bytes"] += len(chunk)

    def progress(self):
        """(table, rows, bytes, seconds) of the table in flight."""
        with self.lock:
            now = dict(self.current)
        return now["table"], now["rows"], now["bytes"], time.monotonic() - now["started"]

    def commit(self, tail):
        """Write the end of the script (sequences, COMMIT) and wait for the session to end; raises SideError unless it
        ended cleanly."""
        self.write(tail)
        self.process.stdin.close()
        with _Deadline(self.deadline) as deadline:
            deadline.watch(self.process)
            rc = self.process.wait()
            deadline.check("the source's psql finishing the copy-back")
        if rc != 0:
            raise SideError(describe(self.side, "psql (loading the copy-back)", rc, self.errors.text()))
        self.committed = True
