#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: postgres_ready
short_description: Check that PostgreSQL in a pod answers SQL and has its databases
version_added: 0.1.0
description:
  - Runs a SQL round trip with C(psql) in the database pod (C(kubectl exec)) until it answers or
    O(timeout) passes; returns the server version, whether it is in recovery, the databases present
    and the round-trip time.
  - Fails when any of O(databases) is missing, naming them, or when the server does not answer in time,
    with psql's last error.
  - A pod that is Ready only says C(pg_isready) succeeded; this says SQL works.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
  - stateshift.k3s.postgres_pod
  - stateshift.k3s.k8s_read_only
requirements:
  - kubectl on the host that runs the module.
options:
  databases:
    description: Databases that must exist.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to keep trying.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Check the database answers
  stateshift.k3s.postgres_ready:
    namespace: invoicetron
    pod: invoicetron-postgresql-0
    user: invoicetron
    databases: [invoicetron, reports]

- name: Check it in another cluster, named by a context of a kubeconfig
  stateshift.k3s.postgres_ready:
    kubeconfig: /etc/stateshift/clusters.yaml
    context: k3s-prod
    namespace: invoicetron
    pod: invoicetron-postgresql-0
"""

RETURN = r"""
server_version:
  description: The server's version string.
  returned: success
  type: str
  sample: "15.20 (Debian 15.20-0+deb12u1)"
server_version_num:
  description: The server's version number.
  returned: success
  type: int
  sample: 150020
in_recovery:
  description: Whether the server is a standby.
  returned: success
  type: bool
databases:
  description: Databases that accept connections.
  returned: success
  type: list
  elements: str
round_trip_ms:
  description: Time of the last SQL round trip, including the exec, in milliseconds.
  returned: success
  type: float
attempts:
  description: How many round trips were tried.
  returned: always
  type: int
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec, connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import PodExecError, pod_exec
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import KUBECTL_ARG_SPEC, Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.psql import POSTGRES_POD_ARG_SPEC

READY_SQL = (
    "SELECT json_build_object('server_version', current_setting('server_version'), "
    "'server_version_num', current_setting('server_version_num')::int, 'in_recovery', pg_is_in_recovery(), "
    "'databases', (SELECT json_agg(datname ORDER BY datname) FROM pg_database WHERE datallowconn AND NOT datistemplate))"
)
RETRY_PAUSE = 1.0


def main():
    module = AnsibleModule(
        argument_spec=connection_arg_spec(
            **POSTGRES_POD_ARG_SPEC,
            databases=dict(type="list", elements="str", default=[]),
            timeout=dict(type="int", default=120),
            **KUBECTL_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    params = module.params
    with Kubectl(params["namespace"], connection_options(params), params["kubectl_bin"]) as kubectl:
        attempts, elapsed_ms, stdout = ask_until_answered(module, kubectl)
    facts = json.loads(stdout.strip().splitlines()[-1])
    missing = sorted(set(params["databases"]) - set(facts["databases"] or []))
    result = dict(changed=False, attempts=attempts, round_trip_ms=round(elapsed_ms, 1), **facts)
    if missing:
        module.fail_json(msg="PostgreSQL in pod %s/%s answers but lacks the database(s) %s (it has %s); they are created at "
                             "first initialisation only - create them, or check the catalog's databases"
                         % (params["namespace"], params["pod"], ", ".join(missing), ", ".join(facts["databases"] or [])),
                         **result)
    module.exit_json(**result)


def ask_until_answered(module, kubectl):
    """Run READY_SQL in the pod until it answers; returns (attempts, round_trip_ms, stdout) or fails the module."""
    params = module.params
    argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", params["user"], "-d", "postgres", "-c", READY_SQL]
    deadline = time.monotonic() + params["timeout"]
    attempts = 0
    while True:
        attempts += 1
        started = time.monotonic()
        try:
            code, stdout, stderr = pod_exec(kubectl, params["pod"], argv, container=params["container"], timeout=30)
        except PodExecError as exc:
            module.fail_json(msg=str(exc), attempts=attempts)
        elapsed_ms = (time.monotonic() - started) * 1000
        if code == 0 and stdout.strip():
            return attempts, elapsed_ms, stdout
        last_error = (stderr or stdout).strip() or "exit code %s" % code
        if time.monotonic() + RETRY_PAUSE > deadline:
            module.fail_json(msg="PostgreSQL in pod %s/%s did not answer SQL within %ss: %s"
                             % (params["namespace"], params["pod"], params["timeout"], last_error), attempts=attempts)
        time.sleep(RETRY_PAUSE)


if __name__ == "__main__":
    main()
