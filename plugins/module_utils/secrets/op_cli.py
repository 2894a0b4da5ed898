# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``op`` CLI (v2) as a 1Password backend: item JSON on stdin, never in argv."""

from __future__ import annotations

import json
import re

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.op_item import AUTH_FIX, OnePasswordError

_CLI_PREFIX = re.compile(r"^\[ERROR\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")


class OpCli:
    """The ``op`` CLI (v2) as a backend. ``run(argv, env_update, data) -> (rc, out, err)``."""

    name = "op CLI"

    def __init__(self, run, op_bin="op", token=None, account=None):
        self.run = run
        self.op_bin = op_bin
        self.env = {"OP_SERVICE_ACCOUNT_TOKEN": token} if token else {}
        self.account = account
        self.calls = 0

    def _op(self, args, data=None):
        argv = [self.op_bin, *args]
        if self.account:
            argv += ["--account", self.account]
        self.calls += 1
        try:
            rc, out, err = self.run(argv, self.env, data)
        except OSError as exc:
            raise OnePasswordError("cannot run the 1Password CLI %r (%s): install op 2.x on the controller "
                                   "or use a Connect server" % (self.op_bin, exc)) from None
        if rc != 0:
            raise self._error(err or out or "", rc)
        try:
            return json.loads(out)
        except ValueError:
            raise OnePasswordError("the 1Password CLI returned output that is not JSON (rc=0); "
                                   "is %r the 1Password CLI 2.x?" % self.op_bin) from None

    @staticmethod
    def _error(text, rc):
        line = text.strip().splitlines()[-1] if text.strip() else "exit code %d" % rc
        message = _CLI_PREFIX.sub("", line)
        lowered = message.lower()
        if "isn't a vault" in lowered or "vault not found" in lowered:
            return OnePasswordError(message, "vault")
        if "isn't an item" in lowered or "item not found" in lowered:
            return OnePasswordError(message, "item")
        if "(429)" in message or "too many requests" in lowered or "rate limit" in lowered:
            return OnePasswordError(message, "rate_limit")
        if any(marker in lowered for marker in ("(401)", "(403)", "not currently signed in", "unauthorized",
                                                "service account token", "session expired", "authenticat",
                                                "no accounts configured", "signin")):
            return OnePasswordError("%s; %s" % (message, AUTH_FIX), "auth")
        return OnePasswordError("op failed: %s" % message)

    def get_item(self, vault, item):
        return self._op(["item", "get", item, "--vault", vault, "--format", "json"])

    def create_item(self, vault, document):
        return self._op(["item", "create", "--vault", vault, "--format", "json", "-"], json.dumps(document))

    def update_item(self, vault, document):
        return self._op(["item", "edit", document["id"], "--vault", vault, "--format", "json", "-"],
                        json.dumps(document))
