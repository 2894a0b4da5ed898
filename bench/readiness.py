"""Readiness latency: how long after a StatefulSet really becomes ready does each waiter return?

Same cluster, same run, alternating rounds. An independent watch records the moment the API
server reports the StatefulSet ready (observedGeneration current, readyReplicas == replicas);
each waiter runs as an Ansible task right after the StatefulSet is scaled up, and the time it
returns is taken by the next task (a set_fact, evaluated in the controller). The StatefulSet runs on a kwok node,
which marks the pod ready as soon as it is scheduled, so both waiters wait for the same event and
the difference is the waiter alone: a watch sees the change as it happens, a poll on its next tick.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from kubernetes import client, config, watch

REPO = Path(__file__).resolve().parent.parent
NAMESPACE = "bench-readiness"

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
{waiter}
    - name: Note when the waiter returned (set_fact runs in the controller, no module start)
      ansible.builtin.set_fact:
        returned_at: "{{{{ now(fmt='%s.%f') }}}}"
    - name: Write it down
      ansible.builtin.copy:
        dest: "{stamp}"
        content: "{{{{ returned_at }}}}"
        mode: "0600"
"""

OURS = """    - name: Scale up
      kubernetes.core.k8s:
        state: patched
        kind: StatefulSet
        name: {name}
        namespace: %s
        definition: {{spec: {{replicas: 1}}}}
    - name: Wait with statefulset_ready
      stateshift.k3s.statefulset_ready:
        name: {name}
        namespace: %s
        timeout: 120""" % (NAMESPACE, NAMESPACE)

K8S_WAIT = """    - name: Scale up and wait with kubernetes.core.k8s
      kubernetes.core.k8s:
        state: patched
        kind: StatefulSet
        name: {name}
        namespace: %s
        definition: {{spec: {{replicas: 1}}}}
        wait: true
        wait_timeout: 120""" % NAMESPACE


def statefulset(name, replicas):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas, "serviceName": name, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "nodeSelector": {"type": "kwok"},
                "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
                "containers": [{"name": "c", "image": "fake"}]}},
        },
    }


def watch_ready(apps, name, started, result):
    stream = watch.Watch()
    for event in stream.stream(apps.list_namespaced_stateful_set, NAMESPACE, field_selector="metadata.name=" + name,
                               timeout_seconds=150):
        sts = event["object"]
        if (sts.status.observed_generation or 0) >= sts.metadata.generation and sts.spec.replicas == 1 \
                and (sts.status.ready_replicas or 0) == 1:
            result["ready_at"] = time.time()
            stream.stop()
    started.set()


def run_round(apps, kind, index):
    name = "%s-%d" % (kind.replace("_", "-"), index)
    apps.create_namespaced_stateful_set(NAMESPACE, statefulset(name, 0))
    with tempfile.TemporaryDirectory() as scratch:
        stamp = os.path.join(scratch, "returned")
        playbook = os.path.join(scratch, "wait.yml")
        waiter = (OURS if kind == "statefulset_ready" else K8S_WAIT).format(name=name)
        Path(playbook).write_text(PLAYBOOK.format(waiter=waiter, stamp=stamp))
        seen, done = {}, threading.Event()
        threading.Thread(target=watch_ready, args=(apps, name, done, seen), daemon=True).start()
        subprocess.run(["ansible-playbook", "-i", "localhost,", playbook], check=True, capture_output=True, cwd=REPO)
        done.wait(30)
        returned = float(Path(stamp).read_text())
    apps.delete_namespaced_stateful_set(name, NAMESPACE)
    return returned - seen["ready_at"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    config.load_kube_config()
    core, apps = client.CoreV1Api(), client.AppsV1Api()
    try:
        core.create_namespace({"metadata": {"name": NAMESPACE}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    latencies = {"statefulset_ready": [], "kubernetes.core.k8s wait": []}
    for index in range(args.rounds):
        latencies["statefulset_ready"].append(run_round(apps, "statefulset_ready", index))
        latencies["kubernetes.core.k8s wait"].append(run_round(apps, "k8s_wait", index))
    core.delete_namespace(NAMESPACE)
    summary = {name: {"median_s": round(statistics.median(values), 3), "max_s": round(max(values), 3),
                      "rounds": [round(v, 3) for v in values]} for name, values in latencies.items()}
    ratio = summary["kubernetes.core.k8s wait"]["median_s"] / max(summary["statefulset_ready"]["median_s"], 0.001)
    print(json.dumps({"readiness_latency": summary, "ratio_k8s_wait_to_ours": round(ratio, 1)}, indent=2))
    (REPO / "bench" / "results" / "readiness.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
