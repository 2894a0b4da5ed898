# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The running broker, through its own CLI tools in the pod (kubectl exec): health checks, definitions out and in.

Definitions travel in the exec stream (stdin, stdout), never on a command line.
"""

from __future__ import annotations

import json
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import pod_exec

CHECKS = (("running", ["rabbitmq-diagnostics", "-q", "check_running"]),
          ("alarms clear", ["rabbitmq-diagnostics", "-q", "check_local_alarms"]))


class BrokerError(Exception):
    """A CLI command in the pod failed: its output says why."""


class Broker:
    def __init__(self, kubectl, pod, container=None):
        self.kubectl, self.pod, self.container = kubectl, pod, container

    def run(self, argv, stdin=None, timeout=60):
        code, stdout, stderr = pod_exec(self.kubectl, self.pod, argv, container=self.container, stdin=stdin, timeout=timeout)
        if code != 0:
            raise BrokerError("%s in pod %s exited %s: %s" % (" ".join(argv[:3]), self.pod, code, (stderr or stdout).strip()[-400:]))
        return stdout

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
        return sorted(row["name"] for row in json.loads(self.run(["rabbitmqctl", "-q", "list_vhosts", "name", "--formatter", "json"])))

    def import_and_wait(self, document, settled, timeout=60):
        """Import ``document`` (the import runs in the background) and wait until ``settled(export)`` is true."""
        self.run(["rabbitmqctl", "-q", "import_definitions"], stdin=json.dumps(document))
        deadline = time.monotonic() + timeout
        while True:
            exported = self.export()
            if settled(exported):
                return exported
            if time.monotonic() > deadline:
                raise BrokerError("the broker in pod %s had not applied the imported definitions after %ss" % (self.pod, timeout))
            time.sleep(1)
