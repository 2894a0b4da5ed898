"""Text shown to a user never carries a password verifier or a password."""

from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.redact import redact

SCRAM = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy"


@pytest.mark.parametrize(("text", "secret"), [
    ("LINE 1: CREATE ROLE \"app\" PASSWORD '%s';" % SCRAM, SCRAM),
    ("ALTER ROLE app WITH LOGIN PASSWORD 'md5" + "0123456789abcdef" * 2 + "';", "0123456789abcdef" * 2),
    ("ERROR: at or near: PASSWORD 'it''s plain'", "it''s plain"),
    ("env PGPASSWORD=hunter2 psql", "hunter2"),
    ("connection to host=db password='p w' dbname=x failed", "p w"),
    ("postgresql://app:hunter2@db/app", "hunter2"),
])
def test_verifiers_and_passwords_are_hidden(text, secret):
    assert secret not in redact(text) and "********" in redact(text)


def test_errors_are_redacted_when_made():
    assert SCRAM not in str(SideError("psql failed: PASSWORD '%s'" % SCRAM, "stderr %s" % SCRAM))
    assert SCRAM not in SideError("x", "LINE 1: %s" % SCRAM).stderr
    assert SCRAM not in str(MigrationError("globals: %s" % SCRAM, "copy"))
