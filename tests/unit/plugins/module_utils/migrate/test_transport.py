from __future__ import annotations

import os
import shlex
import threading
import time

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import transport as migration_transport
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import Side, SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.transport import Cancelled, JobTransport, StreamTransport

PREFIX = b"BEGIN;\nTRUNCATE ONLY public.t;\nCOPY public.t (a) FROM STDIN WITH (FREEZE);\n"
COMMIT = b"\\.\nCOMMIT;\n"
SOURCE_CMD = ("pg_dump", ["-Fc"], "invoicetron")
TARGET_CMD = ("psql", ["-X"], "invoicetron")


class ShellSide(Side):
    """A side whose program is a local shell script, whatever program the transport asks for."""

    def __init__(self, label, script, prefix=b"", env=None):
        self.label, self.script, self.prefix, self.environ = label, script, prefix, env

    def argv(self, program, args, database):
        return ["sh", "-c", self.script]

    def stdin_prefix(self):
        return self.prefix

    def env(self):
        return self.environ

    def explain(self, rc, stderr):
        return None


def writer(path):
    return ShellSide("fake target", "cat > %s" % shlex.quote(str(path)))


def test_prefix_data_and_commit_arrive_in_order_when_the_source_succeeds(tmp_path):
    out = tmp_path / "out"
    transport = StreamTransport(ShellSide("fake source", "printf 'a\\nb\\n'"), writer(out))
    relayed = transport.pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT)
    assert out.read_bytes() == PREFIX + b"a\nb\n" + COMMIT
    assert relayed == 4


def test_a_failing_source_gets_no_commit_and_raises(tmp_path):
    out = tmp_path / "out"
    source = ShellSide("fake source", "printf 'a\\n'; echo 'pg_dump: error: connection lost' >&2; exit 3")
    transport = StreamTransport(source, writer(out))
    with pytest.raises(SideError) as raised:
        transport.pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT)
    assert out.read_bytes() == PREFIX + b"a\n"
    assert str(raised.value) == "fake source: pg_dump failed (rc=3): pg_dump: error: connection lost"


def test_a_source_killed_by_a_signal_gets_no_commit(tmp_path):
    out = tmp_path / "out"
    transport = StreamTransport(ShellSide("fake source", "printf 'a\\n'; kill -9 $$"), writer(out))
    with pytest.raises(SideError, match=r"rc=-9"):
        transport.pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT)
    assert COMMIT not in out.read_bytes()


def test_all_byte_values_pass_unchanged_across_many_chunks(tmp_path):
    payload = bytes(range(256)) * (4 * migration_transport.CHUNK // 256) + os.urandom(123457) + b"\r\n\x00\x1a\x04\\."
    source_file, out = tmp_path / "in.bin", tmp_path / "out.bin"
    source_file.write_bytes(payload)
    transport = StreamTransport(ShellSide("fake source", "cat %s" % shlex.quote(str(source_file))), writer(out))
    relayed = transport.pipe(SOURCE_CMD, TARGET_CMD, prefix=b"\xff\x00", commit=b"\x00\xff")
    assert relayed == len(payload) > 4 * migration_transport.CHUNK
    assert out.read_bytes() == b"\xff\x00" + payload + b"\x00\xff"


def test_each_side_gets_its_own_stdin_prefix_and_environment(tmp_path):
    out = tmp_path / "out"
    source = ShellSide("fake source", 'IFS= read -r pw; printf "%s|%s|" "$pw" "$SOURCE_ONLY"', prefix=b"src-pw\n",
                       env={"PATH": os.environ["PATH"], "SOURCE_ONLY": "yes"})
    target = ShellSide("fake target", 'IFS= read -r pw; { printf "%%s|" "$pw"; cat; } > %s' % shlex.quote(str(out)), prefix=b"tgt-pw\n")
    transport = StreamTransport(source, target)
    transport.pipe(SOURCE_CMD, TARGET_CMD, prefix=b"P|", commit=b"C")
    assert out.read_bytes() == b"tgt-pw|P|src-pw|yes|C"


def dying_target_pipe(tmp_path):
    pid_file = tmp_path / "source.pid"
    source = ShellSide("fake source", "echo $$ > %s; exec yes 0123456789abcdef" % shlex.quote(str(pid_file)))
    target = ShellSide("fake target", "head -c 100 >/dev/null; echo 'psql: FATAL: disk full' >&2; exit 2")
    started = time.monotonic()
    with pytest.raises(SideError) as raised:
        StreamTransport(source, target).pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT)
    return raised.value, time.monotonic() - started, int(pid_file.read_text())


def test_a_target_that_dies_stops_an_endless_source_and_raises(tmp_path):
    _ignored_value, elapsed, source_pid = dying_target_pipe(tmp_path)
    assert elapsed < 20
    with pytest.raises(ProcessLookupError):
        os.kill(source_pid, 0)


def test_a_target_that_dies_is_reported_as_the_target_failure(tmp_path):
    error, _ignored_1, _ignored_2 = dying_target_pipe(tmp_path)
    assert str(error).startswith("fake target: psql failed (rc=2)")
    assert "disk full" in str(error)


def test_a_source_that_exits_before_reading_its_stdin_prefix_is_a_side_error(tmp_path):
    # A prefix larger than the pipe buffer makes the race deterministic; with a password-sized one it happens about 1 run in 5.
    source = ShellSide("fake source", "echo 'ssh: connect to host legacy port 22: Connection refused' >&2; exit 255",
                       prefix=b"x" * (1 << 18))
    with pytest.raises(SideError, match="Connection refused"):
        StreamTransport(source, writer(tmp_path / "out")).pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT)


def test_a_missing_program_is_a_side_error(tmp_path):
    class Missing(ShellSide):
        def argv(self, program, args, database):
            return ["stateshift-no-such-program"]

    with pytest.raises(SideError, match="'stateshift-no-such-program' is not installed"):
        StreamTransport(Missing("x", ""), writer(tmp_path / "out")).pipe(SOURCE_CMD, TARGET_CMD)


def test_cancel_stops_a_long_running_pipe(tmp_path):
    out, pid_file = tmp_path / "out", tmp_path / "source.pid"
    source = ShellSide("fake source", "echo $$ > %s; printf 'a\\n'; exec sleep 60" % shlex.quote(str(pid_file)))
    transport = StreamTransport(source, writer(out))
    outcome = {}

    def run():
        try:
            outcome["result"] = transport.pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and out.exists()) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    assert thread.is_alive()
    transport.cancel()
    thread.join(15)
    assert not thread.is_alive()
    assert time.monotonic() - started < 15
    assert isinstance(outcome.get("error"), Cancelled)
    assert COMMIT not in out.read_bytes()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_a_cancelled_transport_starts_nothing_more(tmp_path):
    out = tmp_path / "out"
    transport = StreamTransport(ShellSide("fake source", "printf 'a\\n'"), writer(out))
    transport.cancel()
    with pytest.raises(Cancelled):
        transport.pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT)
    assert not out.exists()


# --- JobTransport, with a local bash standing in for the worker pod ---------------------------------------

class LocalWorker:
    label = "fake worker"

    def __init__(self, words):
        self.words = words

    def shell(self, program, args, database):
        return self.words

    def script_argv(self, script):
        return ["bash", "-c", "set -euo pipefail\n" + script]

    def explain(self, rc, stderr):
        return None


def test_job_pipeline_commits_only_after_a_clean_source(tmp_path):
    out = tmp_path / "out"
    target = LocalWorker("cat > %s" % shlex.quote(str(out)))
    assert JobTransport(LocalWorker("printf 'a\\nb\\n'"), target).pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT) is None
    assert out.read_bytes() == PREFIX + b"a\nb\n" + COMMIT

    with pytest.raises(SideError, match=r"fake worker: pg_dump \| psql failed \(rc=3\)"):
        JobTransport(LocalWorker("printf 'a\\n'; exit 3"), target).pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT)
    assert out.read_bytes() == PREFIX + b"a\n"


def test_a_hung_source_is_stopped_at_the_deadline_and_the_table_gets_no_commit(tmp_path):
    out = tmp_path / "out"
    transport = StreamTransport(ShellSide("fake source", "printf 'a\\n'; exec sleep 60"), writer(out), deadline=1)
    started = time.monotonic()
    with pytest.raises(SideError, match=r"pg_dump \| psql did not finish within 1 seconds and was stopped"):
        transport.pipe(SOURCE_CMD, TARGET_CMD, prefix=PREFIX, commit=COMMIT)
    assert time.monotonic() - started < 20
    assert COMMIT not in out.read_bytes()
