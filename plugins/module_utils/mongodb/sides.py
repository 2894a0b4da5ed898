# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where MongoDB's database tools run during a move: mongodump in the old container on its Docker host (over SSH),
mongorestore in the StatefulSet's primary pod.

Both log in as the root user their container's environment names (MONGO_INITDB_ROOT_USERNAME and _PASSWORD, or their
_FILE variants, as the official image and the mongodb role set them; a container without them is reached without
authentication). The
password goes to the tool in a ``--config`` file made by mktemp (mode 0600) and removed when the tool exits, never on an
argv or a log line.
"""

from __future__ import annotations

import re
import shlex

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import PodSide, tail
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sources import DockerOverSsh
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.replset import PORT
from ansible_collections.stateshift.k3s.plugins.module_utils.mongodb.tool_config import password_config

TOOLS = "MongoDB's database tools (mongodump, mongorestore)"
SHELL_NOT_FOUND_RC = 127
MISSING_PROGRAM = re.compile(r"(?P<program>mongo\w+): (?:command )?not found")
LOGGED_IN = """set -eu
program=$1; shift
user=${MONGO_INITDB_ROOT_USERNAME:-}
[ -n "$user" ] || [ -z "${MONGO_INITDB_ROOT_USERNAME_FILE:-}" ] || user=$(cat "$MONGO_INITDB_ROOT_USERNAME_FILE")
if [ -n "$user" ]; then
  password=${MONGO_INITDB_ROOT_PASSWORD:-}
  [ -n "$password" ] || [ -z "${MONGO_INITDB_ROOT_PASSWORD_FILE:-}" ] || password=$(cat "$MONGO_INITDB_ROOT_PASSWORD_FILE")
  config=$(mktemp)
  trap 'rm -f "$config"' EXIT
  trap 'rm -f "$config"; exit 143' HUP INT TERM
  %s
  set -- --config="$config" --username="$user" --authenticationDatabase=admin "$@"
fi
"$program" "$@"
""" % password_config("password", '"$config"')


def tool_argv(program, args, database):
    """argv that runs a database tool logged in as the container's root user; ``database``: mongodump's --db."""
    words = [program, "--quiet", *args]
    if database is not None:
        words.append("--db=%s" % database)
    return ["sh", "-c", LOGGED_IN, "sh", *words]


def explain_tool(program, stderr):
    """The tool's own last lines, which say what failed (mongodump: 'Failed: ...')."""
    return "%s failed: %s" % (program, tail(stderr, 3)) if (stderr or "").strip() else None


class ContainerTools(DockerOverSsh):
    """The old container's tools, over the Docker host's SSH."""

    def __init__(self, ssh, container, user=None, password=None, address=None, docker_bin="docker"):
        super().__init__(ssh, container, user, password, address, docker_bin, container_port=PORT)

    def program_argv(self, program, args, database):
        return tool_argv(program, args, database)

    def explain(self, rc, stderr):
        found = self.explain_host_failure(rc, stderr, tools=TOOLS)
        if found:
            return found
        missing = MISSING_PROGRAM.search(stderr or "")
        if rc == SHELL_NOT_FOUND_RC and missing:
            return ("'%s' is not installed in container '%s' on %s: is it a MongoDB server? check source.container (its image "
                    "must ship %s, as the official mongo image does)" % (missing.group("program"), self.container, self.where(), TOOLS))
        return explain_tool("the source's tool", stderr)

    def volume_bytes_script(self):
        """A host script printing the bytes the container's volumes hold (every database of the server): more than any
        one database's dump takes."""
        container, docker = shlex.quote(self.container), shlex.quote(self.docker_bin)
        return ("dirs=$(%s inspect -f '{{range .Mounts}}{{.Destination}} {{end}}' %s); "
                "if [ -z \"$dirs\" ]; then echo 0; else %s exec %s du -skc $dirs 2>/dev/null | tail -n 1 | cut -f1; fi"
                % (docker, container, docker, container))


class PodTools(PodSide):
    """The tools in the StatefulSet's primary pod."""

    def argv(self, program, args, database):
        return self.exec_argv(tool_argv(program, args, database))

    def shell(self, program, args, database):
        return shlex.join(tool_argv(program, args, database))

    def explain(self, rc, stderr):
        text = stderr or ""
        if "NotFound" in text or ("not found" in text and "pods" in text):
            return "pod %s/%s does not exist: run the databases phase first" % (self.kubectl.namespace, self.pod)
        return explain_tool("mongorestore", text)
