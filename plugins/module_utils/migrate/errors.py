# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a migration stops."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.pg.redact import redact


class MigrationError(Exception):
    """The migration stopped; ``phase`` says where and the message what to do. The source is unchanged."""

    def __init__(self, message, phase):
        super().__init__(redact(message))
        self.phase = phase
