# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Plugins that run kubectl from the controller (pg_migrate, pg_compare). How they reach the cluster is
    # stateshift.k3s.k8s_connection; this is only the program.
    DOCUMENTATION = r"""
options:
  kubectl_bin:
    description: The kubectl command.
    type: str
    default: kubectl
"""
