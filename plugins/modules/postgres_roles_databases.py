#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: postgres_roles_databases
short_description: Create the catalog's roles and databases that PostgreSQL in a pod lacks
version_added: 0.2.0
description:
  - Reads the roles and databases of the server in the database pod (C(kubectl exec), psql over the
    local socket), creates the roles of O(roles) and the databases of O(databases) it lacks - roles
    first, with their passwords, then databases with their owners - and reports the roles and
    databases the server has that the catalog does not name.
  - Never drops, renames or alters what exists; a role or database removed from the catalog is
    reported in RV(unmanaged_roles) or RV(unmanaged_databases) and left as it is.
  - A new role's password is read inside the pod from the environment variable the StatefulSet
    sets from the role's Secret key (psql's backquotes run the shell's printf builtin), so it never
    reaches this module, a command line or a log. The script stops before a role would get an empty
    password.
  - The same SQL creates them at the first start of the StatefulSet (its init script).
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
  - stateshift.k3s.postgres_pod
attributes:
  check_mode:
    support: full
    description: Reads the server and says what would be created; creates nothing.
  diff_mode:
    support: full
    description: The server's roles and databases before and after.
requirements:
  - kubectl on the host that runs the module.
options:
  roles:
    description: Roles the server must have.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Role name.
        type: str
        required: true
      login:
        description: Whether the role may log in (used when it is created).
        type: bool
        default: true
      password_key:
        description:
          - Key of the role's password in the Secret the StatefulSet reads (set when the role is created).
          - The pod holds it in an environment variable the StatefulSet numbers among the roles that have a
            password_key, so give O(roles) in the catalog's order.
        type: str
  databases:
    description: Databases the server must have.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Database name.
        type: str
        required: true
      owner:
        description: Owner of the database when it is created (default O(user)).
        type: str
  timeout:
    description: Seconds each psql run may take.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Create the roles and databases the catalog added since the first start
  stateshift.k3s.postgres_roles_databases:
    namespace: invoicetron
    pod: invoicetron-postgresql-0
    user: invoicetron
    roles:
      - {name: reporter, password_key: reporter-password}
      - {name: readers, login: false}
    databases:
      - {name: invoicetron_reports, owner: reporter}
"""

RETURN = r"""
created_roles:
  description: Roles created by this run (in check mode, that would be created).
  returned: success
  type: list
  elements: str
  sample: [reporter]
created_databases:
  description: Databases created by this run (in check mode, that would be created).
  returned: success
  type: list
  elements: str
  sample: [invoicetron_reports]
unmanaged_roles:
  description: Roles of the server that O(roles) and O(user) do not name (system roles C(pg_*) left out); never dropped.
  returned: success
  type: list
  elements: str
unmanaged_databases:
  description: Databases of the server that O(databases) does not name (C(postgres) and templates left out); never dropped.
  returned: success
  type: list
  elements: str
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.connection import connection_arg_spec, connection_options
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import PodExecError, pod_exec
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.kubectl import KUBECTL_ARG_SPEC, Kubectl
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import psql, roles_databases
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.psql import POSTGRES_POD_ARG_SPEC


def main():
    module = AnsibleModule(
        argument_spec=connection_arg_spec(
            **POSTGRES_POD_ARG_SPEC,
            roles=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True), login=dict(type="bool", default=True),
                password_key=dict(type="str", no_log=False))),
            databases=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True), owner=dict(type="str"))),
            timeout=dict(type="int", default=60),
            **KUBECTL_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    params = module.params
    roles, databases = roles_databases.wanted(params["roles"], params["databases"], params["user"])
    with Kubectl(params["namespace"], connection_options(params), params["kubectl_bin"]) as kubectl:
        run = pod_psql(module, kubectl)
        present = json.loads(run(command=roles_databases.INVENTORY_SQL).strip().splitlines()[-1])
        try:
            planned = roles_databases.plan(roles, databases, present, params["user"])
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        if (planned["create_roles"] or planned["create_databases"]) and not module.check_mode:
            run(script=planned)
    result = dict(
        changed=bool(planned["create_roles"] or planned["create_databases"]),
        created_roles=[role["name"] for role in planned["create_roles"]],
        created_databases=[database["name"] for database in planned["create_databases"]],
        unmanaged_roles=planned["unmanaged_roles"], unmanaged_databases=planned["unmanaged_databases"],
    )
    if module._diff:
        before = {"roles": sorted(present["roles"]), "databases": sorted(d["name"] for d in present["databases"])}
        result["diff"] = {"before": before, "after": {"roles": sorted(before["roles"] + result["created_roles"]),
                                                      "databases": sorted(before["databases"] + result["created_databases"])}}
    module.exit_json(**result)


def pod_psql(module, kubectl):
    """``run(command=SQL)`` or ``run(script=plan)``: psql in the pod as the superuser; its output, or the module fails."""
    params = module.params
    where = "pod %s/%s" % (params["namespace"], params["pod"])

    def run(command=None, script=None):
        variables, stdin = (), None
        if script is not None:
            roles, databases = script["create_roles"], script["create_databases"]
            variables = roles_databases.script_variables(roles, databases)
            stdin = "\n".join(roles_databases.create_sql(roles, databases)) + "\n"
        argv = psql.argv(params["user"], "postgres", command=command, variables=variables)
        try:
            code, stdout, stderr = pod_exec(kubectl, params["pod"], argv, container=params["container"], stdin=stdin,
                                            timeout=params["timeout"])
        except PodExecError as exc:
            module.fail_json(msg="exec into %s failed: %s" % (where, exc))
        if code != 0:
            doing = "creating the roles and databases" if script is not None else "reading the roles and databases"
            module.fail_json(msg="psql in %s failed %s (exit code %s): %s" % (where, doing, code, (stderr or stdout).strip()))
        return stdout

    return run


if __name__ == "__main__":
    main()
