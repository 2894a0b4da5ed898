# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Move a byte stream from a source-side program into a target-side program.

- StreamTransport: both programs run where their sides say (SSH + docker exec on one end,
  kubectl exec on the other) and the controller relays the bytes in 1 MiB chunks, so its memory
  stays flat whatever the size.
- JobTransport: both programs run in the migration Job's pod as one shell pipeline; the data goes
  from the source server to that pod to the target server, never through the API server or here.

Either way ``commit`` is written after the data only when the source program exited 0: a cut
stream reaches the target without it and the target's transaction rolls back.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import threading

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import LONG, SideError, describe, spawn

CHUNK = 1 << 20
STDERR_KEEP = 1 << 16


class Cancelled(Exception):
    """Another part of the copy failed, so this one was stopped."""


class _Drain(threading.Thread):
    """Read a pipe to its end, keeping only the last bytes (stderr of long-running programs)."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe, self.data = pipe, b""

    def run(self):
        for chunk in iter(lambda: self.pipe.read(8192), b""):
            self.data = (self.data + chunk)[-STDERR_KEEP:]

    def text(self):
        self.join(timeout=5)
        return self.data.decode("utf-8", "replace")


def kill(process):
    if process and process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)


class _Running:
    """Processes of the pipes in flight, so a failure elsewhere or an interrupt can stop them all."""

    def __init__(self):
        self.lock, self.processes, self.cancelled = threading.Lock(), set(), threading.Event()

    def add(self, process):
        with self.lock:
            if self.cancelled.is_set():
                kill(process)
                raise Cancelled()
            self.processes.add(process)

    def discard(self, process):
        with self.lock:
            self.processes.discard(process)

    def cancel(self):
        with self.lock:
            self.cancelled.set()
            for process in self.processes:
                kill(process)


class _Deadline:
    """Stops the processes of one pipe that outlive ``seconds``; check() then says what hung."""

    def __init__(self, seconds):
        self.seconds, self.processes, self.expired = seconds, [], False
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        return False

    def watch(self, process):
        self.processes.append(process)
        return process

    def _expire(self):
        self.expired = True
        for process in self.processes:
            kill(process)

    def check(self, what):
        if self.expired:
            raise SideError("%s did not finish within %d seconds and was stopped: check that both ends answer (the pipe hung), "
                            "or raise the timeout option for a larger database" % (what, self.seconds))


class StreamTransport:
    name = "stream"

    def __init__(self, source, target, deadline=LONG):
        self.data_source, self.data_target, self.deadline = source, target, deadline
        self.running = _Running()

    def pipe(self, source_cmd, target_cmd, prefix=b"", commit=b"", observe=None):
        """source_cmd/target_cmd are (program, args, database). Returns the number of bytes relayed. ``observe(chunk)`` sees
        each chunk as it passes (an exception it raises stops both programs)."""
        with _Deadline(self.deadline) as deadline:
            return self._pipe(deadline, source_cmd, target_cmd, prefix, commit, observe)

    def _pipe(self, deadline, source_cmd, target_cmd, prefix, commit, observe):
        src_side, tgt_side = self.data_source, self.data_target
        src = deadline.watch(spawn(src_side.argv(*source_cmd), env=src_side.env()))
        self.running.add(src)
        tgt = None
        try:
            src_err = _Drain(src.stderr)
            src_err.start()
            try:
                src.stdin.write(src_side.stdin_prefix())
                src.stdin.close()
            except BrokenPipeError:
                raise SideError(describe(src_side, source_cmd[0], src.wait(), src_err.text())) from None
            tgt = deadline.watch(spawn(tgt_side.argv(*target_cmd), env=tgt_side.env(), stdout=False))
            self.running.add(tgt)
            tgt_err = _Drain(tgt.stderr)
            tgt_err.start()
            relayed, broken = 0, False
            try:
                tgt.stdin.write(tgt_side.stdin_prefix() + prefix)
                for chunk in iter(lambda: src.stdout.read1(CHUNK), b""):
                    if observe is not None:
                        observe(chunk)
                    tgt.stdin.write(chunk)
                    relayed += len(chunk)
                src_rc = src.wait()
                if src_rc == 0:
                    tgt.stdin.write(commit)
                tgt.stdin.close()
            except BrokenPipeError:
                broken = True
                kill(src)
                src_rc = src.wait()
            tgt_rc = tgt.wait()
            if self.running.cancelled.is_set():
                raise Cancelled()
            deadline.check("%s | %s" % (source_cmd[0], target_cmd[0]))
            if broken or (tgt_rc != 0 and src_rc == 0):
                raise SideError(describe(tgt_side, target_cmd[0], tgt_rc, tgt_err.text()))
            if src_rc != 0:
                raise SideError(describe(src_side, source_cmd[0], src_rc, src_err.text()))
            if tgt_rc != 0:
                raise SideError(describe(tgt_side, target_cmd[0], tgt_rc, tgt_err.text()))
            return relayed
        finally:
            kill(src)
            kill(tgt)
            self.running.discard(src)
            if tgt:
                self.running.discard(tgt)

    def cancel(self):
        self.running.cancel()


class JobTransport:
    name = "job"

    def __init__(self, worker_source, worker_target, deadline=LONG):
        self.data_source, self.data_target, self.deadline = worker_source, worker_target, deadline
        self.running = _Running()

    def pipe(self, source_cmd, target_cmd, prefix=b"", commit=b""):
        src_shell = self.data_source.shell(*source_cmd)
        tgt_shell = self.data_target.shell(*target_cmd)
        script = "{ printf '%%s' %s; %s; printf '%%s' %s; } | %s" % (
            shlex.quote(prefix.decode()), src_shell, shlex.quote(commit.decode()), tgt_shell)
        process = spawn(self.data_target.script_argv(script), stdin=False, stdout=False)
        self.running.add(process)
        try:
            err = _Drain(process.stderr)
            err.start()
            with _Deadline(self.deadline) as deadline:
                deadline.watch(process)
                rc = process.wait()
            if self.running.cancelled.is_set():
                raise Cancelled()
            deadline.check("%s | %s in the migration pod" % (source_cmd[0], target_cmd[0]))
            if rc != 0:
                raise SideError(describe(self.data_target, "%s | %s" % (source_cmd[0], target_cmd[0]), rc, err.text()))
            return None
        finally:
            kill(process)
            self.running.discard(process)

    def cancel(self):
        self.running.cancel()
