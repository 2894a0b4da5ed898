# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Compose project's application services stopped or started, on the Docker host (module compose_services).

``run(argv)`` returns (rc, stdout, stderr), as AnsibleModule.run_command does. Compose v2 (``docker compose``) is
used when the Docker CLI has it, else v1 (``docker-compose``), which older VMs still run.
"""

from __future__ import annotations

SERVICE_LABEL = "com.docker.compose.service"


class ComposeError(Exception):
    pass


def compose_argv(run, docker_bin):
    rc, _out, _err = run([docker_bin, "compose", "version"])
    if rc == 0:
        return [docker_bin, "compose"]
    rc, _out, _err = run(["docker-compose", "version"])
    if rc == 0:
        return ["docker-compose"]
    raise ComposeError("neither 'docker compose' nor 'docker-compose' runs on this host: install the Compose plugin")


def _lines(run, argv, what):
    rc, out, err = run(argv)
    if rc != 0:
        raise ComposeError("%s failed: %s" % (what, (err or out).strip()[-500:]))
    return [line.strip() for line in out.splitlines() if line.strip()]


def database_service(run, docker_bin, container):
    """The Compose service of the database container (None when it is not a Compose container)."""
    rc, out, _err = run([docker_bin, "inspect", "-f", '{{ index .Config.Labels "%s" }}' % SERVICE_LABEL, container])
    return (out.strip() or None) if rc == 0 else None


def plan(run, compose, project_dir, services, keep):
    """(services of the project to act on, of them the running ones)."""
    known = _lines(run, [*compose, "--project-directory", project_dir, "config", "--services"], "compose config in %s" % project_dir)
    unknown = [name for name in services if name not in known]
    if unknown:
        raise ComposeError("source.compose_services names %s, not services of the project in %s (it has: %s): fix the names"
                           % (", ".join(unknown), project_dir, ", ".join(known)))
    chosen = list(services) if services else [name for name in known if name != keep]
    running = _lines(run, [*compose, "--project-directory", project_dir, "ps", "--services", "--filter", "status=running"],
                     "compose ps in %s" % project_dir)
    return chosen, [name for name in chosen if name in running]


def change(run, compose, project_dir, state, chosen, running, check_mode):
    """Stop the running ones or start the others; returns the services acted on."""
    acting = running if state == "stopped" else [name for name in chosen if name not in running]
    if acting and not check_mode:
        verb = ["stop"] if state == "stopped" else ["up", "-d", "--no-deps", "--no-recreate"]
        _lines(run, [*compose, "--project-directory", project_dir, *verb, *acting], "compose %s" % verb[0])
    return acting
