# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The modules that take one validated catalog workload, whole (rabbitmq_*, mongodb_*).
    DOCUMENTATION = r"""
options:
  workload:
    description: One workload of the validated catalog (an element of C(stateshift_catalog)) of the module's engine.
    type: dict
    required: true
requirements:
  - kubectl on the host that runs the module.
"""
