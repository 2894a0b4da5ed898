# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""1Password access: batched, cached, retried reads and write-back, through the ``op`` CLI
(service account token) or a 1Password Connect server (REST API).

One *item* is fetched once per run however many of its fields are referenced (``op item get
<item> --vault <vault> --format json``, or Connect's ``GET /v1/vaults/{id}/items/{id}``); all
new values for one item are written in one call (``op item edit``/``op item create`` with the JSON
on stdin, never in argv, or Connect ``PUT``/``POST``). Rate limiting (HTTP 429, or the CLI's
``(429) Too Many Requests``) is retried with exponential backoff.

Nothing here logs or returns secret values inside error messages.
"""

from __future__ import annotations

import json
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.op_cli import OpCli
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.op_connect import Connect, urls_transport
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.op_item import AUTH_FIX, OnePasswordError, find_field, set_fields
from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.op_keys import parse_reference

__all__ = ["AUTH_FIX", "Client", "Connect", "OnePasswordError", "OpCli", "backend_from", "find_field", "set_fields", "urls_transport"]


class Client:
    """Batched, cached access to 1Password items for one run."""

    def __init__(self, backend, retries=5, backoff=1.0, max_backoff=30.0, sleep=time.sleep):
        self.backend = backend
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.retried = 0
        self._cache = {}

    def _retry(self, call, *args):
        attempt = 0
        while True:
            try:
                return call(*args)
            except OnePasswordError as exc:
                if exc.kind != "rate_limit" or attempt >= self.retries:
                    if exc.kind == "rate_limit":
                        raise OnePasswordError("%s (still rate limited after %d retries: wait and run again, "
                                               "or raise secrets_op_retries)" % (exc, attempt),
                                               "rate_limit") from None
                    raise
                delay = getattr(exc, "retry_after", None) or self.backoff * (2 ** attempt)
                self.sleep(min(delay, self.max_backoff))
                attempt += 1
                self.retried += 1

    @property
    def calls(self):
        return self.backend.calls

    def item(self, vault, title):
        """The item document, or None when the vault has no such item. Fetched once per run."""
        key = (vault.lower(), title.lower())
        if key not in self._cache:
            try:
                self._cache[key] = self._retry(self.backend.get_item, vault, title)
            except OnePasswordError as exc:
                if exc.kind != "item":
                    raise
                self._cache[key] = None
        return self._cache[key]

    def resolve(self, references):
        """Look every reference up, one fetch per item.

        Returns ``{reference: {"value": str|None, "missing": None|"item"|"field"}}``.
        Raises OnePasswordError (naming the reference) for a missing vault or an access problem.
        """
        found = {}
        for text in references:
            ref = parse_reference(text)
            try:
                document = self.item(ref["vault"], ref["item"])
            except OnePasswordError as exc:
                raise exc.named(text) from None
            if document is None:
                found[text] = {"value": None, "missing": "item"}
                continue
            field = find_field(document, ref["section"], ref["field"])
            if field is None or field.get("value") in (None, ""):
                found[text] = {"value": None, "missing": "field"}
            else:
                found[text] = {"value": field["value"], "missing": None}
        return found

    def write(self, updates, category="SECURE_NOTE"):
        """Write ``{reference: value}``: one create or edit per item. Returns the items written."""
        by_item = {}
        for text, value in updates.items():
            ref = parse_reference(text)
            by_item.setdefault((ref["vault"].lower(), ref["item"].lower()), []).append((ref, value))
        written = []
        for key, values in by_item.items():
            vault, title = values[0][0]["vault"], values[0][0]["item"]
            named = ", ".join(pair[0]["reference"] for pair in values)
            try:
                current = self.item(vault, title)
                if current is None:
                    document = set_fields({"title": title, "category": category, "fields": [], "sections": []}, values)
                    result = self._retry(self.backend.create_item, vault, document)
                else:
                    document = set_fields(json.loads(json.dumps(current)), values)
                    result = self._retry(self.backend.update_item, vault, document)
            except OnePasswordError as exc:
                raise OnePasswordError("writing %s back to 1Password failed: %s" % (named, exc), exc.kind, named) from None
            self._cache[key] = result if isinstance(result, dict) and result.get("fields") is not None else document
            written.append("%s/%s" % (vault, title))
        return written


def backend_from(params, run=None, transport=urls_transport):
    """Pick the backend: Connect when a host and token are given, else the op CLI."""
    choice = params.get("backend") or "auto"
    host, token = params.get("connect_host"), params.get("connect_token")
    if choice == "connect" or (choice == "auto" and host and token):
        if not host or not token:
            raise OnePasswordError("the Connect backend needs both OP_CONNECT_HOST and OP_CONNECT_TOKEN; %s" % AUTH_FIX,
                                   "auth")
        return Connect(host, token, transport=transport)
    if not params.get("service_account_token") and not params.get("allow_signed_in_cli"):
        raise OnePasswordError("no 1Password credentials: OP_SERVICE_ACCOUNT_TOKEN is not set and no Connect server "
                               "is configured; %s" % AUTH_FIX, "auth")
    if run is None:
        raise OnePasswordError("the op CLI backend needs a command runner")
    return OpCli(run=run, op_bin=params.get("op_bin") or "op", token=params.get("service_account_token"),
                 account=params.get("account"))


class NoBackend:
    """Stands in for a backend when no credentials are set and the catalog references nothing in 1Password: nothing
    calls it then, and any call is the missing credentials' error."""

    calls = 0

    def __init__(self, why):
        self.why = why

    def __getattr__(self, name):
        raise OnePasswordError(self.why, "auth")


def references_1password(workloads):
    """Whether any key of any workload's ``secrets`` is an ``op://`` reference."""
    return any(isinstance(spec, dict) and spec.get("op") for workload in workloads or [] if isinstance(workload, dict)
               for keys in (workload.get("secrets") or {}).values() if isinstance(keys, dict) for spec in keys.values())
