# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mongodump archives read on the controller, nothing restored: the start of one (its prelude: the server's version,
the collections and their indexes; the dump is then stopped), or a whole one (every collection's count and digest)."""

from __future__ import annotations

import threading

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import transport as pipes
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import QUICK, SideError, describe, spawn
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.archive import ArchiveError, ArchiveReader


def prelude(source, database):
    """An ArchiveReader holding the header and collections of ``database``'s dump (its documents are not read)."""
    return _read(source, database, ["--archive"], ArchiveReader(), QUICK, whole=False)


def whole(source, database, timeout):
    """{namespace: Collection} of a whole dump of ``database``."""
    return _read(source, database, ["--archive", "--gzip"], ArchiveReader(gzip=True), timeout, whole=True).finish()


def _read(source, database, args, reader, timeout, whole):
    process = spawn(source.argv("mongodump", args, database), env=source.env())
    timer = threading.Timer(timeout, pipes.kill, (process,))
    timer.start()
    try:
        process.stdin.write(source.stdin_prefix())
        process.stdin.close()
        for chunk in iter(lambda: process.stdout.read1(pipes.CHUNK), b""):
            reader.feed(chunk)
            if not whole and reader.prelude_read:
                return reader
        stderr = process.stderr.read().decode("utf-8", "replace")
        rc = process.wait()
        if not timer.is_alive() and rc != 0:
            raise SideError("%s: mongodump did not finish within %d seconds and was stopped: check that the server answers, or "
                            "raise the timeout option for a larger database" % (source.label, timeout))
        if rc != 0 or not whole:
            raise SideError(describe(source, "mongodump", rc, stderr), stderr)
        return reader
    except ArchiveError as exc:
        raise SideError("%s: the archive mongodump wrote could not be read: %s" % (source.label, exc)) from None
    finally:
        timer.cancel()
        pipes.kill(process)
        process.wait()
