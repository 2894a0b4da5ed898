# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One psql kept open on a side for a run's short statements.

A migration sends a few dozen small scripts to each side (facts, role names, settings, setval...). Started one by one,
each pays a ``kubectl exec`` or ``ssh`` + ``docker exec`` and a login; a session pays them once per side. It moves
between databases with ``\\connect``. One session per side, not per database: each ``kubectl exec`` held open is a Go
process of ~50 MB on the controller.

Each request is the script, ``RESET ALL`` (so its SET statements do not outlive it), then ``COPY (SELECT <token>,
<in a transaction?>) TO STDOUT``: psql flushes its output after a COPY, so the token's line ends the request's output.
ON_ERROR_STOP stays on, as for a one-shot psql: a failed statement ends the session, its error is read to the end and
raised like a one-shot's, and the next request starts a new session. A script that leaves a transaction open is rolled
back and refused, so nothing leaks into the next one. A session busy in another thread is not waited for: the caller
runs its script one-shot.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import threading
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import QUICK, SideError, describe, spawn
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.transport import kill

PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")  # a database name \\connect takes unquoted


class SessionBusy(Exception):
    """Another thread is using the session."""


class _Pipe(threading.Thread):
    """Reads a pipe to its end into a buffer the session waits on."""

    def __init__(self, pipe, changed):
        super().__init__(daemon=True)
        self.pipe, self.changed = pipe, changed
        self.data, self.ended = bytearray(), False

    def run(self):
        fd = self.pipe.fileno()
        while True:
            chunk = os.read(fd, 65536)
            with self.changed:
                if not chunk:
                    self.ended = True
                    self.changed.notify_all()
                    return
                self.data += chunk
                self.changed.notify_all()


class PsqlSession:
    """psql with ``flags`` at ``side``, started on the first script's database and moved to another one with ``\\connect``
    (restarted on it when its name would need quoting)."""

    def __init__(self, side, flags):
        self.side, self.flags = side, list(flags)
        self.database = None
        self._busy = threading.Lock()
        self._process = self._stdout = self._stderr = None
        self._changed = threading.Condition()
        self._token = "stateshift-session-%s" % secrets.token_hex(8)
        self._requests = 0

    def run(self, database, script, timeout=QUICK):
        """The script's output (text). Raises SideError as a one-shot psql would, SessionBusy when another thread has it."""
        if not self._busy.acquire(blocking=False):  # pylint: disable=consider-using-with
            raise SessionBusy()
        try:
            return self._request(database, script, timeout)
        finally:
            self._busy.release()

    def close(self, database=None):
        """End the session (only if it is on ``database``, when given)."""
        with self._busy:
            if database is None or database == self.database:
                self._end()

    def _request(self, database, script, timeout):
        connect = ""
        if self._process is None or self._process.poll() is not None:
            self._start(database)
        elif database != self.database and self.side.takes_database:
            if not PLAIN_NAME.fullmatch(database or ""):
                self._start(database)
            else:
                connect = "\\connect %s\n" % database
        self.database = database
        self._requests += 1
        token = "%s-%d" % (self._token, self._requests)
        request = "%s%s\n;\nRESET ALL;\nCOPY (SELECT '%s', transaction_timestamp() < statement_timestamp()) TO STDOUT;\n" % (
            connect, script.rstrip(), token)
        with self._changed:  # what an earlier request left (its notices) is not this one's
            del self._stdout.data[:]
            del self._stderr.data[:]
        with contextlib.suppress(OSError):  # the session ended: its error is read below
            self._process.stdin.write(request.encode())
            self._process.stdin.flush()
        output, ended = self._wait(token.encode(), timeout)
        if ended is None:
            return output.decode("utf-8", "replace")
        if ended == "timeout":
            kill(self._process)
            self._end()
            raise SideError("%s: psql did not finish within %s seconds and was stopped: check that the host, pod or server it "
                            "talks to answers" % (self.side.label, timeout))
        if ended == "open transaction":
            self._end()
            raise SideError("%s: psql: a script left a transaction open; it was rolled back" % self.side.label)
        rc = self._process.wait()
        self._stderr.join(5)
        stderr = self._stderr.data.decode("utf-8", "replace") + "\n" + output[-2000:].decode("utf-8", "replace")
        self._end()
        raise SideError(describe(self.side, "psql", rc, stderr), stderr)

    def _wait(self, token, timeout):
        """(output, None) once the token's line came; (output, why) when the session ended, left a transaction open or
        outlived the deadline."""
        deadline = time.monotonic() + timeout
        ends = {token + b"\tf\n": None, token + b"\tt\n": "open transaction"}
        with self._changed:
            while True:
                data = self._stdout.data
                for end, why in ends.items():
                    if data.endswith(end):
                        return bytes(data[:len(data) - len(end)]), why
                if self._stdout.ended:
                    return bytes(data), "ended"
                left = deadline - time.monotonic()
                if left <= 0:
                    return b"", "timeout"
                self._changed.wait(left)

    def _start(self, database):
        self._end()
        process = spawn(self.side.argv("psql", self.flags, database), env=self.side.env())
        self._stdout, self._stderr = _Pipe(process.stdout, self._changed), _Pipe(process.stderr, self._changed)
        self._stdout.start()
        self._stderr.start()
        self._process = process
        with contextlib.suppress(OSError):
            process.stdin.write(self.side.stdin_prefix())

    def _end(self):
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            kill(process)
            process.wait()
        for pipe in (self._stdout, self._stderr):
            pipe.join(5)


class Sessions:
    """A run's sessions, one per side; run() falls back to a one-shot psql when the side's session is busy."""

    def __init__(self, one_shot, flags):
        self.one_shot, self.flags = one_shot, flags
        self._sessions, self._lock = {}, threading.Lock()
        self._paused = set()

    def _session(self, side):
        with self._lock:
            key = (type(side).__name__, side.label)
            if key not in self._sessions:
                self._sessions[key] = PsqlSession(side, self.flags)
            return self._sessions[key]

    def run(self, side, database, script, timeout=QUICK):
        if side.label in self._paused:
            return self.one_shot(side, database, script, timeout)
        try:
            return self._session(side).run(database, script, timeout)
        except SessionBusy:
            return self.one_shot(side, database, script, timeout)

    @contextlib.contextmanager
    def paused(self, side):
        """The side's session ended for the block, its scripts run one-shot meanwhile (while the copy's own execs run,
        so the controller holds no more of them than before sessions)."""
        self._paused.add(side.label)
        try:
            self._session(side).close()
            yield
        finally:
            self._paused.discard(side.label)

    def close_database(self, side, database):
        """End the side's session if it is on ``database`` (before that is dropped)."""
        self._session(side).close(database)

    def close(self):
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()
