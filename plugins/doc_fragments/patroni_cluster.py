# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Modules that find a Patroni cluster's members by their labels and ask Patroni's REST API inside their pods.
    DOCUMENTATION = r"""
options:
  namespace:
    description: Namespace of the cluster's pods.
    type: str
    required: true
  selector:
    description: Labels that select the cluster's pods (the catalog workload's C(selector)).
    type: dict
    required: true
  container:
    description: Container of the members' pods (runs Patroni and PostgreSQL).
    type: str
    default: postgresql
requirements:
  - kubectl on the host that runs the module; python3 in the members' image (Patroni's own interpreter).
"""
