"""Shared state of the 1Password test doubles (``op`` CLI double and Connect API double).

TEST DOUBLE - not 1Password. Both doubles keep the vaults in one JSON file (path in
``OP_DOUBLE_STATE``), count every call, and can be told to answer the next calls with a rate-limit
error. Item documents use the shape of ``op item get --format json`` / Connect's FullItem:
``{id, title, version, vault: {id, name}, category, created_at, updated_at, sections: [{id, label}],
fields: [{id, type, purpose?, label, value, section?: {id, label?}, reference}]}``.

State file::

    {"service_account_token": "...", "connect_token": "...",
     "vaults": [{"id": "<26 chars>", "name": "Kubernetes", "items": [<item>, ...]}],
     "fail_next": {"rate_limit": 0},       # answer the next N calls with 429
     "calls": [{"tool": "op", "command": "item get", ...}],
     "argv_leaks": []}                     # argv elements equal to a stored value (must stay empty)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import string
import time

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id():
    return "".join(secrets.choice(_ID_ALPHABET) for _index in range(26))


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@contextlib.contextmanager
def locked_state(path):
    """Open, lock, yield and save the state file (doubles may be called concurrently)."""
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        state = json.load(handle)
        yield state
        handle.seek(0)
        handle.truncate()
        json.dump(state, handle, indent=1, sort_keys=True)


def make_item(vault, title, fields, category="SECURE_NOTE", sections=None):
    """An item document; ``fields`` is {label: value} or a list of field dicts."""
    if isinstance(fields, dict):
        fields = [{"label": label, "value": value, "type": "CONCEALED"} for label, value in fields.items()]
    item = {"id": new_id(), "title": title, "version": 1, "category": category,
            "vault": {"id": vault["id"], "name": vault["name"]}, "created_at": now(), "updated_at": now(),
            "sections": list(sections or []), "fields": []}
    normalize_fields(vault, item, fields)
    return item


def normalize_fields(vault, item, fields):
    """Give fields ids and references as 1Password does; keep section labels in sync."""
    labels = {s.get("id"): s.get("label") for s in item.get("sections") or []}
    out = []
    for given in fields:
        field = dict(given)
        field.setdefault("id", new_id())
        field.setdefault("type", "CONCEALED")
        field.setdefault("label", field["id"])
        section = field.get("section")
        parts = [vault["name"], item["title"]]
        if section and section.get("id"):
            section = {"id": section["id"], "label": labels.get(section["id"], section.get("label", section["id"]))}
            field["section"] = section
            parts.append(section["label"])
        parts.append(field["label"])
        field["reference"] = "op://" + "/".join(parts)
        out.append(field)
    item["fields"] = out
    return item


def new_state(service_account_token="ops_double_token", connect_token="connect_double_token"):
    return {"service_account_token": service_account_token, "connect_token": connect_token, "vaults": [],
            "fail_next": {"rate_limit": 0}, "calls": [], "argv_leaks": []}


def add_vault(state, name):
    vault = {"id": new_id(), "name": name, "items": []}
    state["vaults"].append(vault)
    return vault


def find_vault(state, name_or_id):
    for vault in state["vaults"]:
        if vault["id"] == name_or_id or vault["name"].lower() == name_or_id.lower():
            return vault
    return None


def find_item(vault, title_or_id):
    for item in vault["items"]:
        if item["id"] == title_or_id or item["title"].lower() == title_or_id.lower():
            return item
    return None


def stored_values(state):
    return {field.get("value") for vault in state["vaults"] for item in vault["items"]
            for field in item.get("fields", []) if field.get("value")}


def write(path, state):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1, sort_keys=True)
    os.chmod(path, 0o600)


def read(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
