# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A 1Password Connect server (``/v1`` REST API) as a 1Password backend."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets.op_item import AUTH_FIX, OnePasswordError

_CONNECT_ID = re.compile(r"^[a-z0-9]{26}$")


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
