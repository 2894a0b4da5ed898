"""Shared helpers for the secrets integration tests (1Password doubles, hygiene scan)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.doubles.harness import OP_DOUBLE

REPO = Path(__file__).resolve().parents[2]
SECRETS_PLAYBOOK = REPO / "playbooks" / "secrets.yml"


def run_playbook(playbook, fake, extra_vars, *args, token=None, env_extra=None, json_output=False):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", **fake.cli_env(token))
    if token == "":
        env.pop("OP_SERVICE_ACCOUNT_TOKEN", None)
    for name in ("OP_CONNECT_HOST", "OP_CONNECT_TOKEN"):
        env.pop(name, None)
    env.update(env_extra or {})
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    extra = dict({"secrets_op_bin": str(OP_DOUBLE), "secrets_op_backoff": 0.01}, **extra_vars)
    argv = ["ansible-playbook", "-i", "localhost,", str(playbook), "-e", json.dumps(extra), *args]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env, check=False)


# The op double's vault (1Password itself in tests) holds the values by design; other test sessions
# running at the same time keep theirs under /tmp too, so every such file is left out, not only ours.
DOUBLE_STATE_NAME = "op-double-state.json"
# runc writes every `docker exec`'s process spec, the container's own environment included (the source container's
# POSTGRES_PASSWORD, set by its Compose file), to /tmp/runc-process<n> and removes it once the process started: any
# test of another worker that runs docker exec in the source container leaves one there for a few milliseconds.
RUNTIME_EXEC_SPEC = "runc-process"


def files_newer_than(start, roots, skip):
    for root in roots:
        for directory, _dirs, files in os.walk(root):
            # an installed copy of this collection (test_collection_build unpacks one) holds the test sources, whose
            # fake secret values are not leaks
            if "/proc" in directory or "/.git/" in directory + "/" or "/ansible_collections/stateshift/k3s/" in directory + "/":
                continue
            for name in files:
                path = os.path.join(directory, name)
                if path in skip or name == DOUBLE_STATE_NAME or (directory == "/tmp" and name.startswith(RUNTIME_EXEC_SPEC)):
                    continue
                try:
                    info = os.lstat(path)
                    if info.st_mtime < start or info.st_size > 50 * 1024 * 1024 or not os.path.isfile(path):
                        continue
                    with open(path, "rb") as handle:
                        yield path, handle.read()
                except OSError:
                    continue


def assert_no_value_leaked(values, texts, start, skip):
    """No value in the given texts (stdout, stderr, results) nor in a file written since ``start``."""
    values = {value for value in values if value and len(value) >= 8}
    assert values, "nothing to look for"
    for label, text in texts.items():
        for value in values:
            assert value not in text, "a secret value appears in %s" % label
    time.sleep(0.01)
    roots = ["/tmp", str(REPO), os.path.expanduser("~/.ansible")]
    for path, content in files_newer_than(start, roots, skip):
        for value in values:
            assert value.encode() not in content, "a secret value was left on disk in %s" % path
