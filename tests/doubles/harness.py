"""Helpers for tests that use the 1Password test doubles (``op`` CLI double, Connect double)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from . import onepassword_state as st
from .onepassword_connect import ConnectDouble

DOUBLES = Path(__file__).resolve().parent
OP_DOUBLE = DOUBLES / "op"


class FakeOnePassword:
    """A state file for both doubles, with helpers to seed vaults and read the call log."""

    def __init__(self, directory):
        self.path = str(Path(directory) / "op-double-state.json")
        self.state = st.new_state()
        st.write(self.path, self.state)

    @property
    def service_account_token(self):
        return self.state["service_account_token"]

    @property
    def connect_token(self):
        return self.state["connect_token"]

    def seed(self, vault_name, item_title, fields):
        state = st.read(self.path)
        vault = st.find_vault(state, vault_name) or st.add_vault(state, vault_name)
        vault["items"].append(st.make_item(vault, item_title, fields))
        st.write(self.path, state)

    def set_value(self, vault_name, item_title, field_label, value):
        """Change a field's value, as an operator editing the item in 1Password would."""
        state = st.read(self.path)
        item = st.find_item(st.find_vault(state, vault_name), item_title)
        field = next(field for field in item["fields"] if field["label"].lower() == field_label.lower())
        field["value"] = value
        st.write(self.path, state)

    def add_vault(self, name):
        state = st.read(self.path)
        st.add_vault(state, name)
        st.write(self.path, state)

    def read(self):
        return st.read(self.path)

    def value(self, vault_name, item_title, field_label):
        vault = st.find_vault(self.read(), vault_name)
        item = st.find_item(vault, item_title) if vault else None
        for field in (item or {}).get("fields", []):
            if field["label"].lower() == field_label.lower():
                return field.get("value")
        return None

    def calls(self, tool=None):
        return [call for call in self.read()["calls"] if tool is None or call["tool"] == tool]

    def reset_calls(self):
        state = st.read(self.path)
        state["calls"] = []
        st.write(self.path, state)

    def rate_limit_next(self, count):
        state = st.read(self.path)
        state["fail_next"]["rate_limit"] = count
        st.write(self.path, state)

    def values(self):
        return st.stored_values(self.read())

    def cli_env(self, token=None):
        """Environment for running the op double (token=None uses the right one; '' unsets it)."""
        env = {"OP_DOUBLE_STATE": self.path}
        token = self.service_account_token if token is None else token
        if token:
            env["OP_SERVICE_ACCOUNT_TOKEN"] = token
        return env

    @contextlib.contextmanager
    def connect(self):
        with ConnectDouble(self.path) as url:
            yield url


def subprocess_runner(argv, env_update=None, data=None):
    """Runner for onepassword.OpCli outside a module: (rc, stdout, stderr)."""
    env = dict(os.environ)
    env.update(env_update or {})
    proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=env, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@contextlib.contextmanager
def environ(**values):
    """Temporarily set (or, with None, unset) environment variables."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
