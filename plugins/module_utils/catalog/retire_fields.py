# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog fields of the retire phase (``retire``, and ``retire.vm``: the source's VM through the Proxmox VE API)."""

from __future__ import annotations

import re

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import syntax
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.field import Field

POSTGRESQL = ("postgresql",)
_PROXMOX_USER = re.compile(r"^[A-Za-z0-9._+-]{1,64}@[A-Za-z][A-Za-z0-9._-]{1,31}$")
_PROXMOX_TOKEN_ID = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{1,63}$")
_PROXMOX_NODE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_ENVIRONMENT_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def _matches(pattern, value):
    return isinstance(value, str) and pattern.match(value) is not None


def proxmox_user(value, workload):
    """Proxmox user USER@REALM (letters, digits and ._+- before '@', a realm like pam or pve after)"""
    return None if _matches(_PROXMOX_USER, value) else "is not a Proxmox user like root@pam"


def proxmox_token_id(value, workload):
    """Proxmox API token ID (a letter, then letters, digits and ._-)"""
    return None if _matches(_PROXMOX_TOKEN_ID, value) else "is not a Proxmox API token ID"


def proxmox_node(value, workload):
    """Proxmox node name (letters, digits and '-', at most 63)"""
    return None if _matches(_PROXMOX_NODE, value) else "is not a Proxmox node name"


def environment_variable(value, workload):
    """environment variable name (letters, digits and '_', not starting with a digit)"""
    return None if _matches(_ENVIRONMENT_VARIABLE, value) else "is not an environment variable name"


FIELDS = (
    Field("retire", "dict", "Retirement of the source after a soak period (see roles/retirement/README.md).", default={},
          engines=POSTGRESQL),
    Field("retire.soak_days", "int", "Days the workload runs in the cluster after the cutover before its source may be retired.",
          default=7, minimum=0, maximum=3650),
    Field("retire.watch_seconds", "int", "Seconds the source's client sessions are watched before retiring: any session but the "
          "phase's own refuses the retirement, and who it is gets listed.", default=60, minimum=1, maximum=3600),
    Field("retire.archive_dir", "str", "Directory on source.host that receives a tar archive (with its sha256) of every volume of "
          "the retired containers.", default="/var/backups/stateshift/retired", rule=syntax.absolute_path,
          fix="give a directory on the source host, like /var/backups/stateshift/retired"),
    Field("retire.vm", "dict", "The source's VM, stopped or deleted through the Proxmox VE API once its containers are retired "
          "(see roles/retirement/README.md); absent: the VM is left as it is.", engines=POSTGRESQL),
    Field("retire.vm.api_host", "str", "Host name or IP address of a Proxmox VE node's API (no scheme, no port).",
          required="give the Proxmox API's host name or IP address, e.g. pve1.example.com", rule=syntax.host_name,
          fix="write only the host name or IP address, like pve1.example.com or 192.0.2.5 (the port goes in api_port)"),
    Field("retire.vm.api_port", "int", "Port of the Proxmox VE API.", default=8006, minimum=1, maximum=65535),
    Field("retire.vm.api_user", "str", "User the API token belongs to, as USER@REALM.", required="name the token's user, e.g. root@pam",
          rule=proxmox_user, fix="write it like root@pam or stateshift@pve"),
    Field("retire.vm.api_token_id", "str", "ID of the API token (the part after '!' in USER@REALM!TOKENID); it needs VM.Audit and "
          "VM.PowerMgmt on the VM, and VM.Allocate to delete it.", required="name the API token, e.g. stateshift", rule=proxmox_token_id,
          fix="use the token's ID as Datacenter > Permissions > API Tokens shows it after '!', like stateshift"),
    Field("retire.vm.token_secret_env", "str", "Environment variable of the controller that holds the API token's secret (the "
          "secret is never written in the catalog).", default="PROXMOX_TOKEN_SECRET", rule=environment_variable,
          fix="name an environment variable, like PROXMOX_TOKEN_SECRET"),
    Field("retire.vm.node", "str", "Proxmox VE node the VM runs on; the step refuses a VM found on another node.",
          required="name the node the VM is on, as the Proxmox web interface shows it", rule=proxmox_node,
          fix="use the node's name as the Proxmox web interface shows it, like pve1"),
    Field("retire.vm.vmid", "int", "ID of the VM (Proxmox gives IDs from 100).", required="give the VM's ID, e.g. vmid: 101",
          minimum=100, maximum=999999999),
    Field("retire.vm.action", "str", "stop: shut the VM down (powered off if it is still running after the shutdown timeout), "
          "kept with its disks; delete: shut it down, then remove it and its disks (purged from backup and replication jobs).",
          default="stop", choices=("stop", "delete")),
    Field("retire.vm.validate_certs", "bool", "Check the API's TLS certificate (false accepts Proxmox's self-signed one).",
          default=True),
)
