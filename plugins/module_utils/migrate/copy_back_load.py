# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The copy-back's data path: ONE psql session on the source reads one script (pg/copy_back_sql.py) from stdin, and
each table's rows are relayed into it from a ``psql -c 'COPY ... TO STDOUT'`` in the StatefulSet's pod.

Bytes pass through the controller in 1 MiB chunks, never decoded; rows are counted by their line ends (text COPY
escapes a newline inside a value). Each reader ends its output with a trailer line, ``<end tag> <rows at the
snapshot>``, held back from the source: ``kubectl exec`` can cut a stream short and still exit 0 (kubernetes#124571),
so a table counts as read only when its trailer arrived and names the number of rows relayed. COMMIT is written only
after every table's reader ended cleanly, so a reader that fails or is cut, a source psql that fails, or a controller
that dies leaves the source session without COMMIT: it rolls back.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError, describe, spawn
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.transport import CHUNK, _Deadline, _Drain, kill
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import copy_back_sql, psql

# room for the trailer line, which is held back until the reader's output ends
TRAILER_ROOM = 128


class Loader:
    """``with Loader(source, database, deadline) as loader:`` - the source's psql session; load() streams one table,
    commit() ends the script. Leaving the block without commit() kills the session, which rolls back."""

    def __init__(self, side, database, deadline):
        self.side, self.database, self.deadline = side, database, deadline
        self.process, self.errors, self.committed = None, None, False
        self.end_tag = "stateshift-copy-end-%s" % secrets.token_hex(8)
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
                expected = self._relay(reader, table)
                rc = reader.wait()
                deadline.check("copying %s back" % table["key"])
                if rc != 0:
                    raise SideError(describe(reader_side, "psql (COPY %s TO STDOUT)" % table["key"], rc, reader_errors.text()))
                self._require_whole(reader_side, table, expected)
            finally:
                kill(reader)
        self.write(copy_back_sql.COPY_END)
        return self.current["rows"], self.current["bytes"]

    def _relay(self, reader, table):
        with self.lock:
            self.current = {"table": table["key"], "rows": 0, "bytes": 0, "started": time.monotonic()}
        self.write(copy_back_sql.copy_in_header(table))
        held = b""
        for chunk in iter(lambda: reader.stdout.read1(CHUNK), b""):
            held += chunk
            if len(held) > TRAILER_ROOM:
                self._pass(held[:-TRAILER_ROOM])
                held = held[-TRAILER_ROOM:]
        last_line = held.rfind(b"\n", 0, len(held) - 1) + 1
        self._pass(held[:last_line])
        trailer = re.fullmatch(rb"%s (\d+)\n" % re.escape(self.end_tag.encode()), held[last_line:])
        return int(trailer.group(1)) if trailer else None

    def _pass(self, data):
        self.write(data)
        with self.lock:
            self.current["rows"] += data.count(b"\n")
            self.current["bytes"] += len(data)

    def _require_whole(self, reader_side, table, expected):
        rows = self.current["rows"]
        if expected != rows:
            raise SideError("%s: the rows of %s arrived incomplete (%d received, %s): the stream from the pod was cut, "
                            "although the reader exited 0 (kubectl exec can end a stream early); nothing was committed, "
                            "so the source database is unchanged: run the copy-back again"
                            % (reader_side.label, table["key"], rows,
                               "the end of the output never came" if expected is None else "%d at the snapshot" % expected))

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
