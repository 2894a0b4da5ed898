# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""1Password items as data: the errors every backend raises, and finding or setting a field of an item."""

from __future__ import annotations

import re


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
