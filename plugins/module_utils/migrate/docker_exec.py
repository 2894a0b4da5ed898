# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run programs inside a container on a Docker host, binary-safe.

Commands always use ``docker exec -i`` and never ``-t``: a pseudo-terminal rewrites line
endings and would corrupt dumps and other binary streams.  Secrets are passed by variable
*name* (``-e NAME``), so their values travel in the docker client's environment and never
appear on a command line or in a process list.
"""

from __future__ import annotations

import re

NO_SUCH_CONTAINER = re.compile(r"No such container:\s*(?P<name>\S+)")
NOT_RUNNING = re.compile(r"container \S+ is not running|is not running", re.IGNORECASE)
NO_EXECUTABLE = re.compile(r'exec: "(?P<exe>[^"]+)": executable file not found', re.IGNORECASE)
DAEMON_UNREACHABLE = re.compile(r"Cannot connect to the Docker daemon|permission denied while trying to connect", re.IGNORECASE)


class DockerExecError(Exception):
    """A docker exec failed for a reason the user can fix; the message says how."""


def exec_argv(container, argv, docker_bin="docker", env_names=(), user=None, workdir=None):
    """Return the argv that runs ``argv`` inside ``container`` with stdin attached, no TTY."""
    if not container:
        raise ValueError("container name is empty")
    if not argv:
        raise ValueError("no command to run in the container")
    command = [docker_bin, "exec", "-i"]
    for name in env_names:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ValueError("invalid environment variable name %r" % name)
        command += ["-e", name]
    if user:
        command += ["-u", user]
    if workdir:
        command += ["-w", workdir]
    command.append(container)
    command.extend(argv)
    return command


def explain_failure(container, rc, stderr, host="the Docker host", tools="the PostgreSQL client tools"):
    """Turn a failed docker exec into a message that names the cause and the fix.

    Returns None when the failure came from the program inside the container, so the caller
    can interpret that program's own error.
    """
    text = stderr or ""
    if rc == 127 and "docker" in text and "not found" in text:
        return "the docker command was not found on %s: install Docker there or set docker_bin to its path" % host
    if DAEMON_UNREACHABLE.search(text):
        return ("cannot talk to the Docker daemon on %s: check that it runs and that the SSH user may use it "
                "(member of the 'docker' group, or become: true)" % host)
    if NO_SUCH_CONTAINER.search(text):
        return ("container '%s' not found on %s: check source.container in the workload catalog "
                "('docker ps --format {{.Names}}' lists the running ones)" % (container, host))
    if NOT_RUNNING.search(text):
        return "container '%s' on %s is not running: start it (docker start %s) and re-run" % (container, host, container)
    match = NO_EXECUTABLE.search(text)
    if match:
        return "'%s' is not installed in container '%s' on %s: use an image that ships %s" % (match.group("exe"), container, host, tools)
    return None
