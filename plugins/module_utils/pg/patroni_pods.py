# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Patroni cluster's pods as kubectl sees them: their role labels, Patroni's API asked inside them, psql in them."""

from __future__ import annotations

import json

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.exec import pod_exec
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.pod_wait import kubectl_json
from ansible_collections.stateshift.k3s.plugins.module_utils.pg import patroni_state

# the options of the stateshift.k3s.patroni_cluster doc fragment
PATRONI_CLUSTER_ARG_SPEC = dict(namespace=dict(type="str", required=True), selector=dict(type="dict", required=True),
                                container=dict(type="str", default="postgresql"))
PSQL = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", "postgres"]


def selector_text(selector):
    return ",".join("%s=%s" % item for item in sorted(selector.items()))


class PatroniPods:
    """The pods of ``selector`` in kubectl's namespace; ``container`` runs Patroni and PostgreSQL, ``user`` is the
    superuser psql connects as over the local socket."""

    def __init__(self, kubectl, selector, container, user="postgres"):
        self.kubectl, self.selector, self.container, self.user = kubectl, dict(selector), container, user

    def pod_roles(self):
        """{pod: role label} of the running pods of the selector (not being deleted)."""
        pods = kubectl_json(self.kubectl, "get", "pods", "-l", selector_text(self.selector)).get("items") or []
        return {pod["metadata"]["name"]: (pod["metadata"].get("labels") or {}).get("role") for pod in pods
                if not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get("phase") == "Running"}

    def members(self, pods):
        """Patroni's members, asked of the first pod that answers; (None, why) when none does."""
        why = "no pod of the selector runs"
        for pod in sorted(pods):
            code, stdout, stderr = pod_exec(self.kubectl, pod, patroni_state.CLUSTER_ARGV, container=self.container, timeout=20)
            if code != 0:
                why = "Patroni's API in %s did not answer: %s" % (pod, (stderr or stdout).strip()[-300:])
                continue
            try:
                return patroni_state.parse_cluster(stdout), None
            except patroni_state.PatroniStateError as exc:
                why = "Patroni's API in %s: %s" % (pod, exc)
        return None, why

    def change(self, pod, method, path, body):
        """(HTTP status, answer) of a change sent to Patroni's API in ``pod``."""
        code, stdout, stderr = pod_exec(self.kubectl, pod, patroni_state.change_argv(method, path), container=self.container,
                                        stdin=json.dumps(body), timeout=90)
        if code != 0:
            return 0, (stderr or stdout).strip()[-300:]
        return patroni_state.change_answer(stdout)

    def sql(self, pod, query):
        """(answer, None) or (None, psql's error) of one query over the pod's local socket."""
        argv = [*PSQL, "-U", self.user, "-c", query]
        code, stdout, stderr = pod_exec(self.kubectl, pod, argv, container=self.container, timeout=30)
        return (stdout.strip(), None) if code == 0 else (None, (stderr or stdout).strip()[-300:])
