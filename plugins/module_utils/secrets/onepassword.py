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
import re
import time
from urllib.parse import quote

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import spec as secret_spec

parse_reference = secret_spec.parse_reference

_CLI_PREFIX = re.compile(r"^\[ERROR\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")
_CONNECT_ID = re.compile(r"^[a-z0-9]{26}$")


class OnePasswordError(Exception):
    """A 1Password failure. ``kind``: vault, item, field, auth, rate_limit, error."""

    def __init__(self, message, kind="error", reference=None):
        super().__init__(message)
        self.kind = kind
        self.reference = reference

    def named(self, reference):
        """The same error, with the catalog reference that caused it in front."""
        if self.reference:
            return self
        return OnePasswordError("%s: %s" % (reference, self), self.kind, reference)


AUTH_FIX = ("check the token: OP_SERVICE_ACCOUNT_TOKEN for the op CLI, or OP_CONNECT_HOST and "
            "OP_CONNECT_TOKEN for a Connect server (in AWX: attach the 1Password credential)")


def find_field(item, section, field):
    """The field of ``item`` that ``op read`` would pick: label, then id, case-insensitive."""
    wanted = field.lower()
    section_ids = None
    if section is not None:
        sec = section.lower()
        section_ids = {s.get("id", "") for s in item.get("sections") or []
                       if sec in ((s.get("label") or "").lower(), (s.get("id") or "").lower())}
        if not section_ids:
            return None
    for key in ("label", "id"):
        for candidate in item.get("fields") or []:
            if section_ids is not None and (candidate.get("section") or {}).get("id") not in section_ids:
                continue
            if (candidate.get(key) or "").lower() == wanted:
                return candidate
    return None


def _section_id(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "section"


def set_fields(item, values):
    """Set ``values`` (list of (reference dict, value)) on an item document, adding fields and sections."""
    item.setdefault("fields", [])
    for ref, value in values:
        existing = find_field(item, ref["section"], ref["field"])
        if existing is not None:
            existing["value"] = value
            continue
        new = {"label": ref["field"], "type": "CONCEALED", "value": value}
        if ref["section"]:
            sections = item.setdefault("sections", [])
            wanted = ref["section"].lower()
            match = [s for s in sections if wanted in ((s.get("label") or "").lower(), (s.get("id") or "").lower())]
            if match:
                section = match[0]
            else:
                section = {"id": _section_id(ref["section"]), "label": ref["section"]}
                sections.append(section)
            new["section"] = {"id": section["id"]}
        item["fields"].append(new)
    return item


# --------------------------------------------------------------------------- op CLI backend


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


# --------------------------------------------------------------------------- Connect backend


def urls_transport(method, url, headers, body, timeout=30, validate_certs=True):
    """HTTP through ansible's ``open_url``; returns (status, body bytes, headers dict)."""
    from urllib.error import HTTPError, URLError  # noqa: PLC0415

    from ansible.module_utils.urls import open_url  # noqa: PLC0415 - keep module_utils import light

    try:
        response = open_url(url, method=method, headers=headers, data=body, timeout=timeout,
                            validate_certs=validate_certs)
        return response.getcode(), response.read(), dict(response.headers)
    except HTTPError as exc:
        return exc.code, exc.read() if exc.fp else b"", dict(exc.headers or {})
    except (URLError, OSError) as exc:
        raise OnePasswordError("cannot reach the 1Password Connect server at %s (%s): check OP_CONNECT_HOST"
                               % (url.split("/v1/")[0], getattr(exc, "reason", exc))) from None


class Connect:
    """A 1Password Connect server (``/v1`` REST API) as a backend."""

    name = "1Password Connect"

    def __init__(self, host, token, transport=urls_transport):
        self.host = host.rstrip("/")
        self.token = token
        self.transport = transport
        self.calls = 0
        self._vaults = None
        self._items = {}

    def _request(self, method, path, document=None, what=""):
        headers = {"Authorization": "Bearer %s" % self.token, "Content-Type": "application/json",
                   "Accept": "application/json"}
        body = json.dumps(document).encode("utf-8") if document is not None else None
        self.calls += 1
        status, raw, response_headers = self.transport(method, self.host + path, headers, body)
        try:
            payload = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            payload = None
        if 200 <= status < 300:
            return payload
        message = payload.get("message") if isinstance(payload, dict) else None
        message = "Connect %s %s: HTTP %d%s" % (method, path.split("?")[0], status, " (%s)" % message if message else "")
        if what:
            message = "%s - %s" % (what, message)
        if status == 429:
            error = OnePasswordError(message, "rate_limit")
            retry_after = {k.lower(): v for k, v in (response_headers or {}).items()}.get("retry-after")
            error.retry_after = float(retry_after) if retry_after and str(retry_after).isdigit() else None
            raise error
        if status in (401, 403):
            raise OnePasswordError("%s; %s" % (message, AUTH_FIX), "auth")
        if status == 404:
            raise OnePasswordError(message, "item")
        raise OnePasswordError(message)

    def _vault_id(self, vault):
        if self._vaults is None:
            self._vaults = self._request("GET", "/v1/vaults") or []
        for candidate in self._vaults:
            if candidate.get("id") == vault or (candidate.get("name") or "").lower() == vault.lower():
                return candidate["id"]
        raise OnePasswordError('"%s" isn\'t a vault this Connect token can access' % vault, "vault")

    def _item_id(self, vault_id, vault, item):
        if vault_id not in self._items:
            self._items[vault_id] = self._request("GET", "/v1/vaults/%s/items" % vault_id) or []
        for candidate in self._items[vault_id]:
            if candidate.get("id") == item or (candidate.get("title") or "").lower() == item.lower():
                return candidate["id"]
        raise OnePasswordError('"%s" isn\'t an item in the "%s" vault' % (item, vault), "item")

    def get_item(self, vault, item):
        vault_id = self._vault_id(vault)
        item_id = self._item_id(vault_id, vault, item)
        return self._request("GET", "/v1/vaults/%s/items/%s" % (vault_id, quote(item_id, safe="")))

    def create_item(self, vault, document):
        vault_id = self._vault_id(vault)
        document = dict(document, vault={"id": vault_id})
        created = self._request("POST", "/v1/vaults/%s/items" % vault_id, document, "creating item %r" % document["title"])
        self._items.setdefault(vault_id, []).append({"id": created["id"], "title": created.get("title")})
        return created

    def update_item(self, vault, document):
        vault_id = self._vault_id(vault)
        return self._request("PUT", "/v1/vaults/%s/items/%s" % (vault_id, quote(document["id"], safe="")), document,
                             "updating item %r" % document.get("title"))


# --------------------------------------------------------------------------- client: cache, batch, retry


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
