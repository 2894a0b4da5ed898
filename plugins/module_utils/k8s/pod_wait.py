# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait with kubectl until a pod of a label selector is Ready, or say why not (readiness.diagnose).

For the controller-side plugins that reach the cluster only with kubectl (the migration Job's pod);
modules that have the Python client watch with wait.py instead.
"""

from __future__ import annotations

import json
import subprocess
import time

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.readiness import diagnose, format_findings

POLL_PAUSE = 0.5


class PodNotReady(Exception):
    """No pod of the selector became Ready in time; ``findings`` say why (readiness.diagnose)."""

    def __init__(self, message, findings=()):
        super().__init__(message)
        self.findings = list(findings)


def _kubectl(kubectl, args, timeout):
    try:
        return subprocess.run(kubectl(*args), capture_output=True, timeout=timeout,  # pylint: disable=ansible-bad-function
                              check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PodNotReady("kubectl %s failed: %s" % (args[0], exc)) from None


def kubectl_json(kubectl, *args, timeout=60):
    """``kubectl <args> -o json`` parsed; raises PodNotReady with kubectl's error when it fails."""
    completed = _kubectl(kubectl, [*args, "-o", "json"], timeout)
    if completed.returncode != 0:
        raise PodNotReady("kubectl %s failed: %s" % (args[0], completed.stderr.decode("utf-8", "replace").strip()[-500:]))
    return json.loads(completed.stdout or b"{}")


def is_ready(pod):
    status = pod.get("status") or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def wait_for_ready_pod(kubectl, selector, timeout=180, clock=time.monotonic, sleep=time.sleep):
    """Return the name of the first Ready pod of the label selector in kubectl's namespace.

    Polls (every POLL_PAUSE seconds) only until the pod exists, then, unless it is Ready already, watches it with
    ``kubectl wait``.
    Raises PodNotReady after timeout seconds, with the findings for the selector's pods and their warnings."""
    deadline = clock() + timeout
    pods = kubectl_json(kubectl, "get", "pods", "-l", selector).get("items") or []
    while not pods and clock() < deadline:
        sleep(POLL_PAUSE)
        pods = kubectl_json(kubectl, "get", "pods", "-l", selector).get("items") or []
    ready = [pod["metadata"]["name"] for pod in pods if is_ready(pod)]
    if ready:
        return ready[0]
    remaining = int(deadline - clock())
    if pods and remaining > 0:
        waited = _kubectl(kubectl, ["wait", "--for=condition=Ready", "pod", "-l", selector, "--timeout=%ds" % remaining],
                          remaining + 30)
        names = [line.split()[0].split("/", 1)[-1] for line in waited.stdout.decode().splitlines() if "condition met" in line]
        if waited.returncode == 0 and names:
            return names[0]
        pods = kubectl_json(kubectl, "get", "pods", "-l", selector).get("items") or []
    events = kubectl_json(kubectl, "get", "events", "--field-selector", "type=Warning").get("items") or []
    findings = diagnose(pods, [], events)
    message = "no pod of %s in namespace %s was Ready after %ss" % (selector, kubectl.namespace, timeout)
    if not pods:
        message += " (no pod was created: kubectl describe the owner, e.g. its Job, for why)"
    if findings:
        message += "\n" + format_findings(findings)
    raise PodNotReady(message, findings)
