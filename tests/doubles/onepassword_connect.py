"""TEST DOUBLE of the 1Password Connect server REST API - not 1Password.

A tiny HTTP server on 127.0.0.1 serving the subset of the Connect API (v1) that stateshift.k3s
uses, with its documented JSON shapes and status codes:

- ``GET  /v1/vaults[?filter=name eq "X"]``                  -> [Vault]
- ``GET  /v1/vaults/{vaultUUID}/items[?filter=title eq "Y"]`` -> [Item summary, no fields]
- ``GET  /v1/vaults/{vaultUUID}/items/{itemUUID}``            -> FullItem
- ``POST /v1/vaults/{vaultUUID}/items``                       -> FullItem (201... the real server answers 200)
- ``PUT  /v1/vaults/{vaultUUID}/items/{itemUUID}``            -> FullItem
- errors: ``{"status": <code>, "message": "..."}`` - 401 invalid token, 403, 404 vault/item not found,
  429 Too Many Requests (with ``Retry-After``).

Authentication: ``Authorization: Bearer <connect_token of the state>``. State: the same JSON file as
the ``op`` double (onepassword_state.py); every request is appended to ``calls``.

Run standalone: ``python onepassword_connect.py STATE_FILE`` prints ``http://127.0.0.1:<port>``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    from . import onepassword_state as st
except ImportError:  # run as a script
    import onepassword_state as st

_FILTER = re.compile(r'^\s*(name|title)\s+eq\s+"(.*)"\s*$')


class _Handler(BaseHTTPRequestHandler):
    server_version = "1Password-Connect-double/1.7"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status, payload, headers=None):
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status, message, headers=None):
        self._send(status, {"status": status, "message": message}, headers)

    def _handle(self, method):
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with st.locked_state(self.server.state_path) as state:
            state["calls"].append({"tool": "connect", "command": "%s %s" % (method, url.path), "at": time.time()})
            answer = self._answer(state, method, parts, parse_qs(url.query), body)
        if answer[0] < 400:
            self._send(*answer)
        else:
            self._error(*answer)

    def _answer(self, state, method, parts, query, body):
        auth = self.headers.get("Authorization", "")
        if auth != "Bearer %s" % state["connect_token"]:
            return 401, "Invalid token signature"
        if state["fail_next"].get("rate_limit", 0) > 0:
            state["fail_next"]["rate_limit"] -= 1
            return 429, "Too Many Requests", {"Retry-After": "1"}
        if parts[:2] != ["v1", "vaults"]:
            return 404, "Not Found"
        if len(parts) == 2 and method == "GET":
            vaults = [{"id": v["id"], "name": v["name"], "type": "USER_CREATED", "items": len(v["items"]),
                       "attributeVersion": 1, "contentVersion": 1} for v in state["vaults"]]
            return 200, _filtered(vaults, query, "name")
        vault = next((v for v in state["vaults"] if v["id"] == parts[2]), None)
        if vault is None:
            return 404, "vault %s not found" % parts[2]
        if len(parts) == 4 and parts[3] == "items":
            if method == "GET":
                summaries = [{k: v for k, v in item.items() if k not in ("fields", "sections")} for item in vault["items"]]
                return 200, _filtered(summaries, query, "title")
            if method == "POST":
                document = json.loads(body or b"{}")
                item = st.make_item(vault, document.get("title") or "Untitled", [], document.get("category") or "LOGIN",
                                    document.get("sections"))
                st.normalize_fields(vault, item, document.get("fields") or [])
                vault["items"].append(item)
                return 200, item
        if len(parts) == 5 and parts[3] == "items":
            item = next((i for i in vault["items"] if i["id"] == parts[4]), None)
            if item is None:
                return 404, "item %s not found" % parts[4]
            if method == "GET":
                return 200, item
            if method == "PUT":
                document = json.loads(body or b"{}")
                if document.get("id") not in (None, item["id"]):
                    return 400, "item ID in the body does not match the path"
                item["title"] = document.get("title", item["title"])
                item["sections"] = document.get("sections") or []
                st.normalize_fields(vault, item, document.get("fields") or [])
                item["version"] += 1
                item["updated_at"] = st.now()
                return 200, item
        return 405, "Method Not Allowed"

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")


def _filtered(rows, query, attribute):
    expression = (query.get("filter") or [""])[0]
    if not expression:
        return rows
    match = _FILTER.match(expression)
    if not match or match.group(1) != attribute:
        return rows
    return [row for row in rows if str(row.get(attribute, "")).lower() == match.group(2).lower()]


class ConnectDouble:
    """Start the double in a thread: ``with ConnectDouble(state_path) as url: ...``."""

    def __init__(self, state_path):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.state_path = state_path
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self.url

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    double = ConnectDouble(sys.argv[1])
    print(double.url, flush=True)
    double.server.serve_forever()
