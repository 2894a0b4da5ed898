# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A running broker, through its own CLI tools: health checks, definitions out and in, queue depths, parameters.

- Broker: the StatefulSet's node, in its pod (kubectl exec).
- ContainerBroker: the old broker, in its container on a Docker host (ssh + docker exec, see migrate/sources.py).

Definitions travel in the exec stream (stdin, stdout), never on a command line.
"""

from __future__ import annotations

import json
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import pod_exec
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError, run_process

CHECKS = (("running", ["rabbitmq-diagnostics", "-q", "check_running"]),
          ("alarms clear", ["rabbitmq-diagnostics", "-q", "check_local_alarms"]))
CLI_TOOLS = "the RabbitMQ CLI tools (rabbitmqctl)"


class BrokerError(Exception):
    """A CLI command of the broker failed: its output says why."""


class Broker:
    def __init__(self, kubectl, pod, container=None):
        self.kubectl, self.pod, self.container = kubectl, pod, container
        self.where = "pod %s" % pod

    def execute(self, argv, stdin, timeout):
        """(exit code, stdout, stderr) of ``argv`` where the broker runs."""
        return pod_exec(self.kubectl, self.pod, argv, container=self.container, stdin=stdin, timeout=timeout)

    def explain(self, code, stderr):
        """Why the command could not run at all, or None when the failure is the CLI's own."""
        return None

    def run(self, argv, stdin=None, timeout=60):
        code, stdout, stderr = self.execute(argv, stdin, timeout)
        if code != 0:
            # docker prints some exec failures (a missing program) on stdout
            raise BrokerError(self.explain(code, "%s\n%s" % (stderr, stdout[-2000:])) or "%s in %s exited %s: %s" % (
                " ".join(argv[:3]), self.where, code, (stderr or stdout).strip()[-400:]))
        return stdout

    def rows(self, argv):
        return json.loads(self.run([*argv, "--formatter", "json"]) or "[]")

    def failed_checks(self):
        """[(check, output)] of the health checks that fail; empty when the node runs with no alarm."""
        failed = []
        for name, argv in CHECKS:
            try:
                self.run(argv)
            except BrokerError as exc:
                failed.append((name, str(exc)))
        return failed

    def export(self):
        return json.loads(self.run(["rabbitmqctl", "-q", "export_definitions", "-"]))

    def vhosts(self):
        return sorted(row["name"] for row in self.rows(["rabbitmqctl", "-q", "list_vhosts", "name"]))

    def queues(self, vhost):
        """{queue: {messages, consumers}} of one vhost (messages counts the unacknowledged ones too)."""
        return {row["name"]: {"messages": int(row.get("messages") or 0), "consumers": int(row.get("consumers") or 0)}
                for row in self.rows(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages", "consumers"])}

    def parameters(self, vhost, component):
        """Names of the runtime parameters of ``component`` (e.g. shovel) in ``vhost``."""
        return sorted(row["name"] for row in self.rows(["rabbitmqctl", "-q", "list_parameters", "-p", vhost])
                      if row.get("component") == component)

    def shovel_states(self):
        """{(vhost, name): state and reason} of the shovels running on this node."""
        return {(row.get("vhost"), row.get("name")): ("%s %s" % (row.get("state", ""), row.get("reason") or "")).strip()
                for row in self.rows(["rabbitmqctl", "-q", "shovel_status"])}

    def restart_shovel(self, vhost, name):
        self.run(["rabbitmqctl", "-q", "restart_shovel", "-p", vhost, name])

    def clear_parameter(self, vhost, component, name):
        self.run(["rabbitmqctl", "-q", "clear_parameter", "-p", vhost, component, name])

    def delete_user(self, name):
        self.run(["rabbitmqctl", "-q", "delete_user", name])

    def users(self):
        return sorted(row["user"] for row in self.rows(["rabbitmqctl", "-q", "list_users"]))

    def import_definitions(self, document):
        self.run(["rabbitmqctl", "-q", "import_definitions"], stdin=json.dumps(document))

    def import_and_wait(self, document, settled, timeout=60):
        """Import ``document`` (the import runs in the background) and wait until ``settled(export)`` is true."""
        self.import_definitions(document)
        deadline = time.monotonic() + timeout
        while True:
            exported = self.export()
            if settled(exported):
                return exported
            if time.monotonic() > deadline:
                raise BrokerError("the broker in %s had not applied the imported definitions after %ss" % (self.where, timeout))
            time.sleep(1)


class ContainerBroker(Broker):
    """The broker of a container on a Docker host; ``side`` is a migrate.sources.DockerOverSsh without a password."""

    def __init__(self, side):
        super().__init__(None, None)
        self.side = side
        self.where = side.label

    def execute(self, argv, stdin, timeout):
        data = stdin.encode("utf-8") if isinstance(stdin, str) else (stdin or b"")
        try:
            completed = run_process(self.side.argv(argv[0], argv[1:], None), data, timeout=timeout, what="%s: %s" % (self.where, argv[0]))
        except SideError as exc:
            raise BrokerError(str(exc)) from None
        return completed.returncode, completed.stdout.decode("utf-8", "replace"), completed.stderr.decode("utf-8", "replace")

    def explain(self, code, stderr):
        return self.side.explain_host_failure(code, stderr, tools=CLI_TOOLS)
