#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: source_retire
short_description: Stop and disable a retired source's containers and archive their volumes with a checksum
version_added: 0.3.0
description:
  - Runs on the Docker host, after M(stateshift.k3s.retire_check) passed. Acts on every container of the database
    container's Compose project (its C(com.docker.compose.project) label), or on the database container alone when it
    is not a Compose container.
  - "In order: each container whose restart policy would start it again gets C(--restart no) (so neither the Docker
    daemon nor a reboot brings it back); the running ones are stopped (C(docker stop), 30 s each); then every volume
    and bind mount they use is archived to O(archive_dir) as C(<workload>-<volume>.tar) (0600, in a 0700 folder), with
    its sha256 in C(<archive>.sha256). The archive is C(docker cp)'s tar of the stopped container's mount, read through
    the Docker daemon."
  - Containers, images and volumes are kept; delete them by hand once the archives are copied where they belong.
  - Idempotent. An archive that exists, was made since O(since) and still matches its C(.sha256) is kept; a missing,
    older or changed one is made again. A run killed midway leaves at most a C(.partial) file, which the next run replaces.
  - Uses the Docker CLI rather than M(community.docker.docker_compose_v2), which needs Compose v2; many of the VMs this
    collection empties still run v1.
author:
  - stateshift maintainers (@stateshift)
options:
  workload:
    description: The workload's name; it prefixes the archives' names.
    type: str
    required: true
  database_container:
    description: The database's container (catalog C(source.container)).
    type: str
    required: true
  archive_dir:
    description: Where the archives go on this host (catalog C(retire.archive_dir)).
    type: path
    required: true
  since:
    description:
      - When this retirement started (the ledger's C(retire.retire_started_at), UTC, ISO 8601). An archive already at the
        path but made before it belongs to an earlier retirement and is made again.
    type: str
  docker_bin:
    description: The Docker CLI.
    type: str
    default: docker
attributes:
  check_mode:
    support: full
    description: Says which containers would be disabled and stopped and which volumes archived.
  diff_mode:
    support: none
    description: Nothing to diff.
"""

EXAMPLES = r"""
- name: Retire invoicetron's Compose stack
  stateshift.k3s.source_retire:
    workload: invoicetron
    database_container: invoicetron-db
    archive_dir: /var/backups/stateshift/retired
"""

RETURN = r"""
project:
  description: The Compose project retired (null for a lone container).
  returned: always
  type: str
containers:
  description: Every container retired, stopped and kept from starting again (now or by an earlier run).
  returned: always
  type: list
  elements: str
restart_disabled:
  description: The containers whose restart policy was set to C(no) (or would be).
  returned: always
  type: list
  elements: str
stopped:
  description: The containers stopped (or that would be).
  returned: always
  type: list
  elements: str
archives:
  description: One per volume or bind mount, with C(container), C(destination), C(volume), C(path), C(sha256),
    C(bytes) and C(made) (false when a matching archive was already there; null values in check mode).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stateshift.k3s.plugins.module_utils.retire import gates, stack


def main():
    module = AnsibleModule(argument_spec=dict(
        workload=dict(type="str", required=True), database_container=dict(type="str", required=True),
        archive_dir=dict(type="path", required=True), since=dict(type="str"), docker_bin=dict(type="str", default="docker")),
        supports_check_mode=True)
    params = module.params
    docker = params["docker_bin"]
    try:
        since = gates.parse_time(params["since"]).timestamp() if params["since"] else None
        project, inspected = stack.containers(module.run_command, docker, params["database_container"])
        planned = stack.plan(params["workload"], inspected, params["archive_dir"])
        archives = []
        if not module.check_mode:
            stack.disable_and_stop(module.run_command, docker, planned["restart_disabled"], planned["stopped"])
        for item in planned["archives"]:
            found = stack.recorded(item["path"], since)
            if found is None and not module.check_mode:
                made = stack.archive(lambda command: module.run_command(command, use_unsafe_shell=True), docker, item)
                archives.append(dict(item, sha256=made[0], bytes=made[1], made=True))
            else:
                archives.append(dict(item, sha256=found[0] if found else None, bytes=found[1] if found else None, made=found is None))
    except (stack.StackError, OSError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    changed = bool(planned["restart_disabled"] or planned["stopped"] or any(item["made"] for item in archives))
    done = ["%s: %s" % (what, ", ".join(names)) for what, names in (("restart disabled", planned["restart_disabled"]),
                                                                    ("stopped", planned["stopped"])) if names]
    done += ["archived %s to %s" % (item["volume"], item["path"]) for item in archives if item["made"]]
    nothing = "nothing to do: every container is stopped and disabled, every volume archived"
    module.exit_json(changed=changed, project=project, containers=sorted(c["Name"].lstrip("/") for c in inspected),
                     restart_disabled=planned["restart_disabled"], stopped=planned["stopped"], archives=archives,
                     msg="; ".join(done) if done else nothing)


if __name__ == "__main__":
    main()
