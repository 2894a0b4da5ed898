# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The few cluster operations the cutover needs, through kubectl: read, apply (server-side), replace, delete, rollout.

Bodies travel on stdin, never on a command line, so a Secret value is never in an argv."""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import run_process, tail

FIELD_MANAGER = "stateshift-cutover"


class ClusterError(Exception):
    """kubectl failed; the message says which call and kubectl's own words (never a body)."""


class Cluster:
    """``Cluster(kubectl)``: kubectl is a k8s.kubectl.Kubectl (its namespace is the default); ``field_manager`` owns what
    ``apply`` writes."""

    def __init__(self, kubectl, check_mode=False, field_manager=FIELD_MANAGER):
        self.kubectl, self.check_mode, self.field_manager = kubectl, check_mode, field_manager

    def _run(self, namespace, args, stdin=b"", timeout=120):
        argv = self.kubectl.namespaced(namespace or self.kubectl.namespace, *args)
        completed = run_process(argv, stdin, timeout=timeout, what="kubectl %s" % " ".join(args[:2]))
        if completed.returncode != 0:
            raise ClusterError("kubectl %s in namespace %s failed: %s"
                               % (" ".join(args[:3]), namespace, tail(completed.stderr.decode("utf-8", "replace"))))
        return completed.stdout.decode("utf-8", "replace")

    def get(self, kind, name, namespace=None):
        """The object as a dict, or None when it does not exist."""
        out = self._run(namespace, ["get", kind, name, "-o", "json", "--ignore-not-found"])
        return json.loads(out) if out.strip() else None

    def list(self, kind, namespace, selector):
        """The objects of ``kind`` whose labels match ``selector`` (label=value,...)."""
        return json.loads(self._run(namespace, ["get", kind, "-l", selector, "-o", "json"]))["items"]

    def resource_known(self, kind):
        """Whether the API server serves ``kind`` (a CRD such as CiliumNetworkPolicy may be missing)."""
        out = self._run(None, ["api-resources", "-o", "name"])
        plural = kind.lower()[:-1] + "ies" if kind.endswith("y") else kind.lower() + "s"
        return any(line.split(".", 1)[0] == plural for line in out.split())

    def apply(self, body):
        """Server-side apply of ``body`` (only the fields it holds become ours)."""
        if not self.check_mode:
            self._run(body["metadata"].get("namespace"), ["apply", "--server-side", "--force-conflicts",
                                                          "--field-manager=%s" % self.field_manager, "-f", "-"],
                      stdin=json.dumps(body).encode())

    def merge_patch(self, kind, name, namespace, patch):
        """A JSON merge patch of someone else's object: only the keys in ``patch`` change (read from stdin)."""
        if not self.check_mode:
            self._run(namespace, ["patch", kind.lower(), name, "--type", "merge", "--patch-file", "/dev/stdin"],
                      stdin=json.dumps(patch).encode())

    def replace(self, body):
        """Replace ``body`` as read (its resourceVersion makes a concurrent change fail instead of being lost)."""
        if not self.check_mode:
            self._run(body["metadata"].get("namespace"), ["replace", "-f", "-"], stdin=json.dumps(body).encode())

    def delete(self, kind, name, namespace=None):
        if not self.check_mode:
            self._run(namespace, ["delete", kind, name, "--ignore-not-found", "--wait=false"])

    def rollout(self, kind, name, namespace, timeout):
        """Wait until a restarted client runs its new pods; ClusterError with kubectl's words if it does not."""
        if self.check_mode:
            return
        try:
            self._run(namespace, ["rollout", "status", "%s/%s" % (kind.lower(), name), "--timeout=%ds" % timeout], timeout=timeout + 30)
        except ClusterError as exc:
            raise ClusterError("%s %s/%s did not roll out its restarted pods within %d s (%s): see 'kubectl get pods,events -n %s', "
                               "fix what keeps them from running, then re-run: the ledger keeps the restart pending"
                               % (kind, namespace, name, timeout, exc, namespace)) from None
