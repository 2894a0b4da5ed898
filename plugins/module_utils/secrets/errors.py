# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error of one bad value below a Secret key of the catalog."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.errors import field_text


class SpecError(ValueError):
    """One bad value below a Secret key: ``field`` is relative to the key (``generate``, ``op``, ...)."""

    def __init__(self, field, value, problem, fix):
        self.field, self.value, self.problem, self.fix = field, value, problem, fix
        super().__init__(field_text(field, value, problem, fix))
