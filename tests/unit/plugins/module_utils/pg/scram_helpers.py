"""A PostgreSQL role that must log in with SCRAM, and psql as a client of the test server."""

from __future__ import annotations

import os
import subprocess

from ansible_collections.stateshift.k3s.plugins.module_utils.pg import password as pg_password

GROUP = "stateshift_scram_only"


def run_psql(server, script, user="postgres", password=None):
    argv = pg_password.psql_argv(user=user, host=server.socket_dir, port=server.port)
    env = dict(os.environ, PGPASSWORD=password) if password else dict(os.environ)
    proc = subprocess.run(argv, input=script, capture_output=True, text=True, env=env, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def make_role(server, name):
    ident = pg_password.quote_ident(name)
    server.psql("DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN IN ROLE %s" % (ident, ident, GROUP))
