"""A client that writes every 10 ms and keeps what the server acknowledged: the measure of a cutover's write
unavailability and of lost writes. It connects the way an application does, through an address that the cutover
moves (a Service's ClusterIP, reachable from the lab's node, which is this machine), and reconnects at once when its
session ends or a connection is refused."""

from __future__ import annotations

import os
import subprocess
import threading
import time


class WriteProbe(threading.Thread):
    """INSERT INTO <table> (note) VALUES (...) RETURNING id, one psql session at a time; ``acked``: [(id, time)]."""

    def __init__(self, host, port, user, password, database, table="probe", interval=0.01):
        super().__init__(daemon=True)
        self.argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port), "-U", user, "-d", database]
        self.env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="2", PGAPPNAME="write-probe")
        self.table, self.interval = table, interval
        self.stop, self.acked, self.sessions = threading.Event(), [], 0

    def run(self):
        while not self.stop.is_set():
            self.sessions += 1
            process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       text=True, bufsize=1, env=self.env)
            try:
                while not self.stop.is_set():
                    process.stdin.write("INSERT INTO %s (note) VALUES ('probe') RETURNING id;\n" % self.table)
                    process.stdin.flush()
                    line = process.stdout.readline()
                    if not line.strip():
                        break
                    self.acked.append((int(line), time.time()))
                    time.sleep(self.interval)
            except (BrokenPipeError, ValueError):
                pass
            finally:
                process.kill()
                process.wait()
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.join(timeout=10)
        return self

    def ids(self):
        return {row_id for row_id, _at in self.acked}

    def longest_gap(self, since=0.0, until=float("inf")):
        """The longest time without an acknowledged write between ``since`` and ``until`` (seconds)."""
        times = [at for _id, at in self.acked if since <= at <= until]
        return max((b - a for a, b in zip(times, times[1:])), default=float("inf"))
