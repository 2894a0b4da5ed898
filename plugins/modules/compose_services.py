#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_services
short_description: Stop or start the application services of a Docker Compose project, never its database
version_added: 0.2.0
description:
  - Runs on the Docker host. The cutover stops the services that write to the database (so nothing writes to the
    source after the final sync); a rollback starts them again.
  - Uses Compose v2 (C(docker compose)) when the Docker CLI has it, else v1 (C(docker-compose)).
    M(community.docker.docker_compose_v2) needs v2 only; many of the VMs this collection empties still run v1.
  - Without O(services), acts on every service of the project except the one that runs O(database_container).
  - Starting uses C(up -d --no-deps --no-recreate), so a service whose container was removed comes back, and none is
    recreated.
author:
  - stateshift maintainers (@stateshift)
options:
  project_dir:
    description: The folder that holds the project's compose file (catalog C(source.compose_dir)).
    type: path
    required: true
  services:
    description: The services to act on (catalog C(source.compose_services)); empty means all but the database's.
    type: list
    elements: str
    default: []
  database_container:
    description: The database's container (catalog C(source.container)); its service is never stopped.
    type: str
    required: true
  state:
    description: C(stopped) or C(started).
    type: str
    required: true
    choices: [stopped, started]
  docker_bin:
    description: The Docker CLI.
    type: str
    default: docker
attributes:
  check_mode:
    support: full
    description: Says which services would be stopped or started.
  diff_mode:
    support: none
    description: Nothing to diff.
"""

EXAMPLES = r"""
- name: Stop the application so nothing writes to the source
  stateshift.k3s.compose_services:
    project_dir: /home/app/invoicetron
    database_container: invoicetron-db
    state: stopped
"""

RETURN = r"""
services:
  description: The services stopped or started (or that would be).
  returned: always
  type: list
  elements: str
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import compose


def main():
    module = AnsibleModule(argument_spec=dict(
        project_dir=dict(type="path", required=True), services=dict(type="list", elements="str", default=[]),
        database_container=dict(type="str", required=True), state=dict(type="str", required=True, choices=["stopped", "started"]),
        docker_bin=dict(type="str", default="docker")), supports_check_mode=True)
    params = module.params

    if not os.path.isdir(params["project_dir"]):
        module.fail_json(msg="source.compose_dir %s is not a folder on %s: give the folder that holds docker-compose.yml"
                             % (params["project_dir"], platform.node()))

    def run(argv):
        return module.run_command(argv, cwd=params["project_dir"])

    try:
        argv = compose.compose_argv(run, params["docker_bin"])
        keep = compose.database_service(run, params["docker_bin"], params["database_container"])
        if keep is not None and keep in params["services"]:
            module.fail_json(msg="source.compose_services lists %s, the service of the database container %s: the database must "
                                 "keep running for the final sync; remove it" % (keep, params["database_container"]))
        chosen, running = compose.plan(run, argv, params["project_dir"], params["services"], keep)
        acted = compose.change(run, argv, params["project_dir"], params["state"], chosen, running, module.check_mode)
    except compose.ComposeError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(acted), services=acted,
                     msg="%s %s" % (params["state"], ", ".join(acted)) if acted else "nothing to do: every service is %s" % params["state"])


if __name__ == "__main__":
    main()
