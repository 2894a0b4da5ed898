# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One exported snapshot of the source, held by an open read-only transaction until the migration is done with it."""

from __future__ import annotations

import subprocess
import threading

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import QUICK, SideError, describe, spawn
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import psql
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.quote import quote_literal


class ExportedSnapshot:
    """``with ExportedSnapshot(side, database) as snapshot_id:`` - a source session exports it and lives until exit."""

    def __init__(self, side, database, application_name=None):
        self.side, self.database, self.process = side, database, None
        self.naming = ("SET application_name = %s;\n" % quote_literal(application_name)).encode() if application_name else b""

    def __enter__(self):
        self.process = spawn(self.side.argv("psql", psql.FLAGS, self.database), env=self.side.env())
        self.process.stdin.write(self.side.stdin_prefix() + self.naming
                                 + b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n")
        self.process.stdin.flush()
        timer = threading.Timer(QUICK, self.process.kill)
        timer.start()
        try:
            line = self.process.stdout.readline().decode().strip()
        finally:
            timer.cancel()
        if not line and not timer.is_alive() and self.process.poll() is not None and self.process.returncode < 0:
            self._close_pipes()
            raise SideError("%s: the source did not export a snapshot within %d seconds (the connection hung)" % (self.side.label, QUICK))
        if not line:
            self.process.stdin.close()
            stderr = self.process.stderr.read().decode("utf-8", "replace")
            rc = self.process.wait()
            self._close_pipes()
            raise SideError(describe(self.side, "psql", rc, stderr), stderr)
        return line

    def __exit__(self, *exc):
        try:
            self.process.stdin.write(b"COMMIT;\n")
            self.process.stdin.close()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            self._close_pipes()
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        return False

    def _close_pipes(self):
        for pipe in (self.process.stdout, self.process.stderr):
            pipe.close()
