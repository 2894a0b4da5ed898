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
  - With O(transport=pod) psql runs in the PostgreSQL pod (Kubernetes exec with stdin, as the pod's
    local superuser); with O(transport=local) it runs on the managed host (for example against a
    Unix socket).
  - Used by the C(secrets) role when it rotates a database password; idempotent, so a rotation that
    was interrupted converges on the next run.
  - Differs from M(community.postgresql.postgresql_user) in that it needs no network connection to
    the database and no psycopg on the controller.
author:
  - stateshift maintainers (@stateshift)
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
  kubeconfig:
    description: Kubeconfig file; defaults to E(KUBECONFIG) or C(~/.kube/config), then in-cluster.
    type: path
  context:
    description: Kubeconfig context.
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
  iterations:
    description: SCRAM iterations of a new verifier.
    type: int
    default: 4096
  timeout:
    description: Seconds to wait for psql in the pod.
    type: int
    default: 60
requirements:
  - kubernetes (Python) for O(transport=pod); psql for O(transport=local).
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
"""

RETURN = r"""
role:
  description: The role.
  returned: success
  type: str
  sample: invoicetron
previous_format:
  description: How the previous password was stored (C(scram-sha-256), C(md5), C(none) or C(other)).
  returned: success
  type: str
  sample: scram-sha-256
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s import exec_stdin as k8s_exec_stdin
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import password as pg_password


def main():
    module = AnsibleModule(
        argument_spec={
            "role": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "transport": {"type": "str", "choices": ["pod", "local"], "default": "pod"},
            "namespace": {"type": "str"},
            "pod": {"type": "str"},
            "container": {"type": "str"},
            "kubeconfig": {"type": "path"},
            "context": {"type": "str"},
            "login_user": {"type": "str", "default": "postgres"},
            "login_host": {"type": "str"},
            "login_port": {"type": "int"},
            "database": {"type": "str", "default": "postgres"},
            "iterations": {"type": "int", "default": 4096},
            "timeout": {"type": "int", "default": 60},
        },
        required_if=[("transport", "pod", ("namespace", "pod"))],
        supports_check_mode=True,
    )
    p = module.params
    if p["transport"] == "pod":
        argv = pg_password.psql_argv(user=p["login_user"], database=p["database"])

        def execute(script):
            try:
                return k8s_exec_stdin.exec_with_stdin(p["namespace"], p["pod"], p["container"], argv, script,
                                                      kubeconfig=p["kubeconfig"], context=p["context"],
                                                      timeout=p["timeout"])
            except ImportError:
                module.fail_json(msg="transport=pod needs the kubernetes Python package on the controller")
            except Exception as exc:
                module.fail_json(msg="exec into pod %s/%s failed: %s" % (p["namespace"], p["pod"], exc))
    else:
        argv = pg_password.psql_argv(user=p["login_user"], database=p["database"], host=p["login_host"],
                                     port=p["login_port"])

        def execute(script):
            return module.run_command(argv, data=script, binary_data=True)

    try:
        result = pg_password.ensure(execute, p["role"], p["password"], check_mode=module.check_mode,
                                    iterations=p["iterations"])
    except ValueError as exc:
        module.fail_json(msg=str(exc), role=p["role"])
    module.exit_json(changed=result["changed"], role=p["role"], previous_format=result["previous_format"])


if __name__ == "__main__":
    main()
