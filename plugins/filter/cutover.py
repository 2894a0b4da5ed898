# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the cutover role: final_sync_record."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.record import sync_record


class FilterModule:
    def filters(self):
        return {"final_sync_record": sync_record}
