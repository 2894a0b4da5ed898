#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_role_password
short_description: Make a PostgreSQL role's password match a value, without sending the plaintext
version_added: 0.1.0
description:
  - Reads the role's stored password from C(pg_authid) and, when it does not verify against
    O(password), runs C(ALTER ROLE ... PASSWORD '<SCRAM-SHA-256 verifier>'). The plaintext never
    reaches the server or its logs; the verifier travels in a psql script on stdin, never in argv.
  - With O(transport=pod) psql runs in the PostgreSQL pod (C(kubectl exec -i), as the pod's local
    superuser; the cluster is reached with the connection options); with O(transport=local) it runs
    on the managed host (for example against a Unix socket).
  - Used by the C(secrets) role when it rotates a database password; idempotent, so a rotation that
    was interrupted converges on the next run.
  - Differs from M(community.postgresql.postgresql_user) in that it needs no network connection to
    the database and no psycopg on the controller.
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
options:
  role:
    description: The PostgreSQL role.
    type: str
    required: true
  password:
    description: The password the role must have.
    type: str
    required: true
  transport:
    description: Where psql runs.
    type: str
    choices: [pod, local]
    default: pod
  namespace:
    description: Namespace of the PostgreSQL pod (O(transport=pod)).
    type: str
  pod:
    description: The primary PostgreSQL pod (O(transport=pod)).
    type: str
  container:
    description: Container of the pod that has psql.
    type: str
  login_user:
    description: Superuser psql connects as.
    type: str
    default: postgres
  login_host:
    description: Host or Unix socket directory (O(transport=local)).
    type: str
  login_port:
    description: Port (O(transport=local)).
    type: int
  database:
    description: Database psql connects to.
    type: str
    default: postgres
  login_check_host:
    description:
      - After the password is set (or found set), log in as O(role) with it at this host (for O(transport=pod)
        the pod's IP, where the server asks for the password), and fail when the server refuses it.
      - The password is set inside psql (C(\\setenv)) from the script on stdin, never in argv or the pod's environment.
    type: str
  login_check_port:
    description: Port of the login check.
    type: int
  iterations:
    description: SCRAM iterations of a new verifier.
    type: int
    default: 4096
  timeout:
    description: Seconds to wait for psql in the pod.
    type: int
    default: 60
requirements:
  - kubectl for O(transport=pod); psql for O(transport=local).
  - passlib or libpass.
attributes:
  check_mode:
    description: Reads and compares, changes nothing.
    support: full
  diff_mode:
    description: Passwords are never shown, so there is no diff.
    support: none
"""

EXAMPLES = r"""
- name: Give role invoicetron the password from the Secret
  stateshift.k3s.pg_role_password:
    role: invoicetron
    password: "{{ new_password }}"
    namespace: invoicetron
    pod: invoicetron-postgresql-0
  no_log: true

- name: The same through a service account token (handed to kubectl in a private kubeconfig, never in argv)
  stateshift.k3s.pg_role_password:
    role: invoicetron
    password: "{{ new_password }}"
    namespace: invoicetron
    pod: invoicetron-postgresql-0
    host: https://k3s.example.com:6443
    api_key: "{{ k3s_token }}"
    ca_cert: /etc/stateshift/k3s-ca.crt
  no_log: true
"""

RETURN = r"""
role:
  description: The role.
  returned: success
  type: str
  sample: invoicetron
login_verified:
  description: Whether O(role) logged in with the password (only with O(login_check_host)).
  returned: success
  type: bool
  sample: true
previous_format:
  description: How the previous password was stored (C(scram-sha-256), C(md5), C(none) or C(other)).
  returned: success
  type: str
  sample: scram-sha-256
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec, connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import PodExecError, pod_exec
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import KUBECTL_ARG_SPEC, Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import password as pg_password


def main():
    module = AnsibleModule(
        argument_spec=connection_arg_spec(
            role=dict(type="str", required=True),
            password=dict(type="str", required=True, no_log=True),
            transport=dict(type="str", choices=["pod", "local"], default="pod"),
            namespace=dict(type="str"),
            pod=dict(type="str"),
            container=dict(type="str"),
            login_user=dict(type="str", default="postgres"),
            login_host=dict(type="str"),
            login_port=dict(type="int"),
            database=dict(type="str", default="postgres"),
            login_check_host=dict(type="str"),
            login_check_port=dict(type="int"),
            iterations=dict(type="int", default=4096),
            timeout=dict(type="int", default=60),
            **KUBECTL_ARG_SPEC,
        ),
        required_if=[("transport", "pod", ("namespace", "pod"))],
        supports_check_mode=True,
    )
    p = module.params
    if p["transport"] == "pod":
        with Kubectl(p["namespace"], connection_options(p), p["kubectl_bin"]) as kubectl:
            converge(module, pod_runner(module, kubectl))
    else:
        argv = pg_password.psql_argv(user=p["login_user"], database=p["database"], host=p["login_host"], port=p["login_port"])
        converge(module, lambda script: module.run_command(argv, data=script, binary_data=True))


def pod_runner(module, kubectl):
    """``execute(script) -> (rc, stdout, stderr)``: psql in the pod with the script on stdin."""
    p = module.params
    argv = pg_password.psql_argv(user=p["login_user"], database=p["database"])

    def execute(script):
        try:
            return pod_exec(kubectl, p["pod"], argv, container=p["container"], stdin=script, timeout=p["timeout"])
        except PodExecError as exc:
            module.fail_json(msg="exec into pod %s/%s failed: %s" % (p["namespace"], p["pod"], exc), role=p["role"])
    return execute


def converge(module, execute):
    p = module.params
    try:
        login = {"host": p["login_check_host"], "port": p["login_check_port"], "database": p["database"]} if p["login_check_host"] else None
        result = pg_password.ensure(execute, p["role"], p["password"], check_mode=module.check_mode, iterations=p["iterations"],
                                    login=login)
    except ValueError as exc:
        module.fail_json(msg=str(exc), role=p["role"])
    module.exit_json(changed=result["changed"], role=p["role"], previous_format=result["previous_format"],
                     login_verified=result["login_verified"])


if __name__ == "__main__":
    main()
