# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 2: one consistent view of the source, read by the backup, the copy and the source half of verification,
so all three agree even while applications keep writing to the source."""

from __future__ import annotations


def held(engine):
    """``with held(engine) as snapshot_id:`` - the snapshot lives until the block ends."""
    return engine.snapshot()
