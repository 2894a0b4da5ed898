# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The actions that reach the cluster with kubectl from the controller (pg_migrate, pg_compare).
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description: Path of the kubeconfig; the default is kubectl's.
    type: path
  context:
    description: Context of the kubeconfig.
    type: str
  kubectl_bin:
    description: The kubectl command.
    type: str
    default: kubectl
"""
