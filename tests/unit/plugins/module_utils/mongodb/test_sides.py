"""The tools' login wrapper run by a real sh, with a stand-in mongodump that reports what it was given."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sources import SshTarget
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb import sides

REPORTER = """#!/bin/sh
echo "argv: $*"
for arg in "$@"; do
  case "$arg" in --config=*) f=${arg#--config=}; echo "mode: $(stat -c %a "$f")"; echo "config: $(cat "$f")"; echo "file: $f";; esac
done
"""


@pytest.fixture()
def tools(tmp_path):
    program = tmp_path / "mongodump"
    program.write_text(REPORTER)
    program.chmod(0o755)
    return tmp_path


def run_wrapped(tools, env, database="vault"):
    argv = sides.tool_argv("mongodump", ["--archive"], database)
    environ = dict(os.environ, PATH="%s:%s" % (tools, os.environ["PATH"]), TMPDIR=str(tools), **env)
    return subprocess.run(argv, capture_output=True, text=True, env=environ, check=True).stdout


def test_the_root_password_reaches_the_tool_in_a_private_file_removed_afterwards(tools):
    out = run_wrapped(tools, {"MONGO_INITDB_ROOT_USERNAME": "root", "MONGO_INITDB_ROOT_PASSWORD": "it's s3cret"})
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert "s3cret" not in lines["argv"]
    assert lines["argv"].endswith("--username=root --authenticationDatabase=admin --quiet --archive --db=vault")
    assert lines["mode"] == "600"
    assert lines["config"] == "password: 'it''s s3cret'"
    assert not os.path.exists(lines["file"])


def test_a_container_without_a_root_user_is_reached_without_one(tools):
    out = run_wrapped(tools, {"MONGO_INITDB_ROOT_USERNAME": ""}, database=None)
    assert out.strip() == "argv: --quiet --archive"


def test_a_container_without_mongodump_is_named_as_not_a_mongodb_server():
    side = sides.ContainerTools(SshTarget("192.0.2.7", name="legacy-vm"), "invoicetron-db")
    said = side.explain(127, "sh: 9: mongodump: not found\n")
    assert said.startswith("'mongodump' is not installed in container 'invoicetron-db' on legacy-vm (192.0.2.7): is it a MongoDB "
                           "server? check source.container")


def test_a_failing_tool_is_explained_by_its_last_lines():
    side = sides.ContainerTools(SshTarget("192.0.2.7", name="legacy-vm"), "vinylvault-db")
    said = side.explain(1, "2026-12-03T05:00:00 Failed: can't create session: connection refused\n")
    assert said == "the source's tool failed: 2026-12-03T05:00:00 Failed: can't create session: connection refused"


def test_the_file_variants_of_the_root_user_are_read(tools):
    (tools / "user").write_text("admin")
    (tools / "password").write_text("from-a-file")
    out = run_wrapped(tools, {"MONGO_INITDB_ROOT_USERNAME": "", "MONGO_INITDB_ROOT_USERNAME_FILE": str(tools / "user"),
                              "MONGO_INITDB_ROOT_PASSWORD_FILE": str(tools / "password")})
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert "--username=admin" in lines["argv"] and lines["config"] == "password: 'from-a-file'"
