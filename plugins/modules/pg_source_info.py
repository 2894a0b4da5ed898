#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_source_info
short_description: Inventory a PostgreSQL database that runs in a Docker container
version_added: 0.1.0
description:
  - Runs on the Docker host that holds the source database (the old VM, reached over SSH) and
    inventories the database through C(docker exec -i) and C(psql), without a TTY and without
    changing anything.
  - Returns the server version, the databases in the server, and per table its estimated or
    exact row count and size, plus counts of sequences, views, functions and the extensions.
  - Used before a migration to show what will move, and by the demo.
  - Differs from M(community.postgresql.postgresql_info) in that it needs no PostgreSQL client
    library or open port on the Docker host; it uses the tools inside the container.
author:
  - stateshift maintainers (@stateshift)
options:
  container:
    description:
      - Name or ID of the container that runs PostgreSQL.
      - Exactly one of O(container) and O(patroni_members) is required.
    type: str
  patroni_members:
    description:
      - The member containers of a Patroni cluster in Docker, instead of O(container).
      - Each member's Patroni is asked C(GET /patroni) inside its container; the one that leads is inventoried.
        No member leading, or more than one, fails before any database is read.
    type: list
    elements: str
  database:
    description: Database to inventory.
    type: str
    required: true
  user:
    description: Role to connect as (for example the container's C(POSTGRES_USER)).
    type: str
    default: postgres
  password:
    description:
      - Password of O(user). Only needed when the container does not trust local connections.
      - Passed to C(docker exec) through the environment, never on a command line.
    type: str
  exact_counts:
    description:
      - Count the rows of every table exactly (one C(count(*)) per table, in one statement).
      - When false, row counts are the planner's estimates, and null for tables never analyzed.
    type: bool
    default: false
  docker_bin:
    description: The docker client on the Docker host.
    type: str
    default: docker
notes:
  - Read-only; check mode runs the same queries.
attributes:
  check_mode:
    description: Can run in check mode and return the same inventory.
    support: full
  diff_mode:
    description: Changes nothing, so there is no diff.
    support: none
"""

EXAMPLES = r"""
- name: Show what the invoicetron database holds
  stateshift.k3s.pg_source_info:
    container: invoicetron-db
    database: invoicetron
    user: invoicetron
    exact_counts: true
  register: source

- name: Inventory the leader of a Patroni cluster in Docker
  stateshift.k3s.pg_source_info:
    patroni_members: [gardenos-postgres-1-dev, gardenos-postgres-2-dev, gardenos-postgres-3-dev]
    database: gardenos

- name: Print the biggest tables
  ansible.builtin.debug:
    msg: "{{ source.inventory.tables | sort(attribute='size_bytes', reverse=true) | first }}"
"""

RETURN = r"""
container:
  description: The container that was inventoried (with O(patroni_members), the leader's).
  returned: success
  type: str
  sample: gardenos-postgres-2-dev
inventory:
  description: What the database holds.
  returned: success
  type: dict
  contains:
    server_version:
      description: The server's version string.
      type: str
      sample: "15.20 (Debian 15.20-0+deb12u1)"
    server_major:
      description: The server's major version.
      type: int
      sample: 15
    database:
      description: The inventoried database.
      type: str
      sample: invoicetron
    size_bytes:
      description: Size of the database on disk.
      type: int
      sample: 10240000
    databases:
      description: Every database of the server that accepts connections, with its size.
      type: list
      elements: dict
      sample: [{"name": "invoicetron", "size_bytes": 10240000}]
    tables:
      description: User tables with schema, name, rows, rows_exact and size_bytes.
      type: list
      elements: dict
      sample: [{"schema": "public", "name": "invoices", "rows": 5000, "rows_exact": true, "size_bytes": 819200}]
    table_count:
      description: Number of user tables.
      type: int
      sample: 7
    rows_total:
      description: Sum of the known row counts.
      type: int
      sample: 120000
    tables_never_analyzed:
      description: Tables without an estimate (only when O(exact_counts=false)).
      type: int
      sample: 0
    sequences:
      description: Number of sequences.
      type: int
      sample: 6
    views:
      description: Number of views and materialized views.
      type: int
      sample: 1
    functions:
      description: Number of user functions (not from extensions).
      type: int
      sample: 2
    extensions:
      description: Installed extensions except plpgsql.
      type: list
      elements: str
      sample: ["pgcrypto"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import docker_exec
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import inventory as pg_inventory
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import patroni_member, psql


def run_psql(module, database, sql):
    params = module.params
    env_names = ["PGPASSWORD"] if params["password"] else []
    argv = docker_exec.exec_argv(params["container"], psql.argv(params["user"], database, command=sql),
                                 docker_bin=params["docker_bin"], env_names=env_names)
    environ = {"PGPASSWORD": params["password"]} if params["password"] else None
    return module.run_command(argv, environ_update=environ)


def leader(module, members):
    """The member container whose Patroni leads."""
    def status(member):
        argv = docker_exec.exec_argv(member, ["python3", *patroni_member.STATUS_ARGS], docker_bin=module.params["docker_bin"])
        rc, stdout, stderr = module.run_command(argv)
        return patroni_member.status_from(rc, stdout, stderr, lambda code, text: docker_exec.explain_failure(member, code, text))

    return patroni_member.leader_of({member: status(member) for member in members})


def list_databases(module):
    rc, stdout, stderr = run_psql(module, "postgres", psql.LIST_DATABASES_SQL)
    if rc != 0:
        raise RuntimeError(stderr)
    return stdout


def fail_with_reason(module, rc, stderr):
    container = module.params["container"]
    reason = docker_exec.explain_failure(container, rc, stderr)
    if reason is None:
        databases = psql.databases_if_missing(stderr, lambda: list_databases(module))
        reason = psql.explain_psql_error(stderr, databases)
    module.fail_json(msg=reason or "psql failed in container '%s' (rc=%s): %s" % (container, rc, stderr.strip()),
                     rc=rc, stderr=stderr)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container=dict(type="str"),
            patroni_members=dict(type="list", elements="str"),
            database=dict(type="str", required=True),
            user=dict(type="str", default="postgres"),
            password=dict(type="str", no_log=True),
            exact_counts=dict(type="bool", default=False),
            docker_bin=dict(type="str", default="docker"),
        ),
        mutually_exclusive=[("container", "patroni_members")],
        required_one_of=[("container", "patroni_members")],
        supports_check_mode=True,
    )
    if module.params["patroni_members"]:
        try:
            module.params["container"] = leader(module, module.params["patroni_members"])
        except patroni_member.NoSingleLeader as exc:
            module.fail_json(msg=str(exc))
    sql = pg_inventory.inventory_sql(exact_counts=module.params["exact_counts"])
    rc, stdout, stderr = run_psql(module, module.params["database"], sql)
    if rc != 0:
        fail_with_reason(module, rc, stderr)
    try:
        inventory = pg_inventory.parse_inventory(stdout)
    except pg_inventory.InventoryError as exc:
        module.fail_json(msg=str(exc), stdout=stdout, stderr=stderr)
    module.exit_json(changed=False, container=module.params["container"], inventory=inventory)


if __name__ == "__main__":
    main()
