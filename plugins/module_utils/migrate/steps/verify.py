# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 8: prove the target holds what the snapshot holds (``migration.verify``: checksum, count or none).

The source's half reads the snapshot, so it can start as soon as the schema is copied and run while the
target is still being written; the target's half runs after the copy.
"""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.background import Background

NONE = "none"


def not_verified():
    return {"ok": True, "level": NONE, "mismatches": [], "tables": [], "objects": {}, "sequences": [], "totals": {}}


def begin_source(engine, level, snapshot):
    """The source's half, started in the background (None when nothing is verified)."""
    if level == NONE:
        return None
    return Background(engine.verify_source, level, snapshot).begin()


def compare(engine, level, snapshot=None, source_half=None):
    """Both halves compared: the report. Without a started source half, the source is read as it is now (or
    at ``snapshot``) while the target is read."""
    if level == NONE:
        return not_verified()
    source_half = source_half or begin_source(engine, level, snapshot)
    target_half = engine.verify_target(level)
    return engine.compare(source_half.result(), target_half, level)
