#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: patroni_users
short_description: Create a Patroni cluster's replication and rewind users on its leader when they are missing
version_added: 0.4.0
description:
  - Patroni creates its replication and rewind users only when it initialises a new cluster. When it takes over the
    data directory of a single server (a workload turned from C(ha=none) to C(ha=patroni)), replicas cannot copy the
    leader until these users exist; this creates them on the leader (C(kubectl exec), psql over the local socket).
  - The rewind user gets execute on C(pg_ls_dir), C(pg_stat_file) and C(pg_read_binary_file), what C(pg_rewind) reads.
  - The passwords are read inside the pod from Patroni's own environment (C(PATRONI_REPLICATION_PASSWORD),
    C(PATRONI_REWIND_PASSWORD), set from the workload's Secret), so they never reach this module, a command line or a
    log; the script stops before a user would get an empty password.
  - Users that exist are left as they are.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
  - stateshift.k3s.postgres_pod
attributes:
  check_mode:
    support: full
    description: Reads the server and says which users would be created.
  diff_mode:
    support: full
    description: The users present before and after.
requirements:
  - kubectl on the host that runs the module.
options:
  replication_user:
    description: The replication user's name (Patroni's C(PATRONI_REPLICATION_USERNAME)).
    type: str
    default: replicator
  rewind_user:
    description: The rewind user's name (Patroni's C(PATRONI_REWIND_USERNAME)).
    type: str
    default: rewinder
"""

EXAMPLES = r"""
- name: Make the users the replicas need on the leader
  stateshift.k3s.patroni_users:
    namespace: gardenos
    pod: gardenos-postgresql-0
    container: postgresql
    user: gardenos
"""

RETURN = r"""
created:
  description: The users created (in check mode, those that would be).
  returned: success
  type: list
  elements: str
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec, connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import PodExecError, pod_exec
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import KUBECTL_ARG_SPEC, Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import patroni_users
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.patroni_pods import PSQL
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.psql import POSTGRES_POD_ARG_SPEC


def run_psql(module, kubectl, extra, script=None):
    params = module.params
    argv = [*PSQL, "-U", params["user"], *extra]
    try:
        code, stdout, stderr = pod_exec(kubectl, params["pod"], argv, container=params["container"], stdin=script, timeout=60)
    except PodExecError as exc:
        module.fail_json(msg=str(exc))
    if code != 0:
        module.fail_json(msg="psql in %s/%s failed: %s" % (params["namespace"], params["pod"], (stderr or stdout).strip()[-500:]))
    return stdout


def main():
    module = AnsibleModule(
        argument_spec=connection_arg_spec(
            **POSTGRES_POD_ARG_SPEC,
            replication_user=dict(type="str", default="replicator"),
            rewind_user=dict(type="str", default="rewinder"),
            **KUBECTL_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    params = module.params
    wanted = {"replication": params["replication_user"], "rewind": params["rewind_user"]}
    with Kubectl(params["namespace"], connection_options(params), params["kubectl_bin"]) as kubectl:
        present = json.loads(run_psql(module, kubectl, ["-c", patroni_users.present_sql(wanted.values())]).strip() or "[]")
        missing = {kind: name for kind, name in wanted.items() if name not in present}
        if missing and not module.check_mode:
            names = [item for kind, name in sorted(missing.items()) for item in ("-v", "name_%s=%s" % (kind, name))]
            run_psql(module, kubectl, names, script="\n".join(patroni_users.create_sql(missing)) + "\n")
    created = sorted(missing.values())
    module.exit_json(changed=bool(created), created=created,
                     diff={"before": {"users": sorted(present)}, "after": {"users": sorted(set(present) | set(created))}})


if __name__ == "__main__":
    main()
