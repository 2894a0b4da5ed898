# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Modules that run psql in the database pod over kubectl exec, as a role over the local socket.
    DOCUMENTATION = r"""
options:
  namespace:
    description: Namespace of the pod.
    type: str
    required: true
  pod:
    description: Name of the primary's pod.
    type: str
    required: true
  container:
    description: Container that runs PostgreSQL (the pod's first by default).
    type: str
  user:
    description: Role to connect as over the local socket (the workload's C(auth.user)).
    type: str
    default: postgres
"""
