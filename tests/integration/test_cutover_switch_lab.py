"""The cutover's client switch against the lab cluster: a Deployment on the real node, its Secret and ConfigMap,
a Service clients use by name, a NetworkPolicy and a CiliumNetworkPolicy (Cilium's CRDs, no agent) with a
temporary rule to the source's CIDR. Cutover, rollback, cutover again; re-runs change nothing; values never shown."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid

import pytest

from tests.integration.conftest import KUBECONFIG, kubectl, nothing_changed

pytestmark = pytest.mark.lab

PASSWORD = "Cutover-Secret-%s" % uuid.uuid4().hex[:6]
SOURCE_URL = "postgresql://app:%s@10.10.50.10:5432/app?sslmode=prefer" % PASSWORD
SOURCE_IP = "10.10.50.10"


def apply(body):
    done = subprocess.run(["kubectl", "--kubeconfig", KUBECONFIG, "apply", "-f", "-"], input=json.dumps(body), text=True,
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr


def get(kind, name, namespace):
    return json.loads(kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)


@pytest.fixture(scope="module")
def switch_namespace(cluster):
    name = "cutover-%s" % uuid.uuid4().hex[:6]
    kubectl("create", "namespace", name)
    meta = {"namespace": name}
    apply({"apiVersion": "v1", "kind": "Secret", "metadata": dict(meta, name="app-env"),
           "stringData": {"DATABASE_URL": SOURCE_URL, "OTHER": "kept"}})
    apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": dict(meta, name="app-config"), "data": {"DB_HOST": SOURCE_IP}})
    apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": dict(meta, name="app"),
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
                    "template": {"metadata": {"labels": {"app": "app"}},
                                 "spec": {"terminationGracePeriodSeconds": 0, "containers": [
                                     {"name": "app", "image": "debian:bookworm", "command": ["sleep", "infinity"]}]}}}})
    apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": dict(meta, name="app-egress"),
           "spec": {"podSelector": {"matchLabels": {"app": "app"}}, "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {"cidr": "10.10.50.10/32"}}], "ports": [{"port": 5432}]},
                               {"to": [{"ipBlock": {"cidr": "10.10.50.10/32"}}, {"namespaceSelector": {}}]},
                               {"to": [{"namespaceSelector": {"matchLabels": {"x": "y"}}}]}]}})
    apply({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": dict(meta, name="cloudflared"),
           "spec": {"endpointSelector": {}, "egress": [
               {"toEndpoints": [{"matchLabels": {"app": "app"}}]},
               {"toCIDR": ["10.10.50.10/32"], "toPorts": [{"ports": [{"port": "3000", "protocol": "TCP"}]}]}]}})
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


SETTINGS = [{"name": "app-env", "key": "DATABASE_URL"}, {"kind": "ConfigMap", "name": "app-config", "key": "DB_HOST", "form": "host"}]


def catalog(namespace):
    return [{"name": "shop", "namespace": namespace, "engine": "postgresql", "storage": {"size": "1Gi"},
             "source": {"host": "legacy-vm", "container": "shop-db", "database": "shop", "address": "%s:5432" % SOURCE_IP},
             "clients": [{"name": "app", "settings": SETTINGS}],
             "cutover": {"service": "db",
                         "remove_rules": [{"namespace": namespace, "name": "app-egress", "cidr": "10.10.50.10/32"},
                                          {"kind": "CiliumNetworkPolicy", "namespace": namespace, "name": "cloudflared",
                                           "cidr": "10.10.50.10/32"}]}}]


def run(playbook, namespace, steps, *extra, check=True):
    extra_vars = json.dumps({"probe_workloads": catalog(namespace), "probe_steps": steps})
    return playbook.run("tests/integration/playbooks/cutover_probe.yml", "-e", extra_vars, *extra, check=check)


def secret_value(namespace):
    return base64.b64decode(get("secret", "app-env", namespace)["data"]["DATABASE_URL"]).decode()


def test_cutover_rollback_and_again(playbook, switch_namespace):
    ns = switch_namespace
    policy_before = get("networkpolicy", "app-egress", ns)["spec"]
    cilium_before = get("ciliumnetworkpolicy", "cloudflared", ns)["spec"]

    checked = run(playbook, ns, [{"ledger": "cutover_started"}, {"switch": "target"}], "--check", "--diff", "-vvv")
    assert "pointed at the StatefulSet" in checked.stdout and PASSWORD not in checked.stdout
    assert secret_value(ns) == SOURCE_URL

    done = run(playbook, ns, [{"ledger": "cutover_started"}, {"switch": "target"}, {"ledger": "cutover_finished"}], "-vvv")
    assert PASSWORD not in done.stdout + done.stderr
    target = "shop-postgresql.%s.svc" % ns
    assert secret_value(ns) == "postgresql://app:%s@%s:5432/app?sslmode=prefer" % (PASSWORD, target)
    assert get("configmap", "app-config", ns)["data"]["DB_HOST"] == target
    assert base64.b64decode(get("secret", "app-env", ns)["data"]["OTHER"]).decode() == "kept"
    service = get("service", "db", ns)
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "shop"}
    egress = get("networkpolicy", "app-egress", ns)["spec"]["egress"]
    assert egress == [{"to": [{"namespaceSelector": {}}]}, {"to": [{"namespaceSelector": {"matchLabels": {"x": "y"}}}]}]
    assert get("ciliumnetworkpolicy", "cloudflared", ns)["spec"]["egress"] == [{"toEndpoints": [{"matchLabels": {"app": "app"}}]}]
    template = get("deployment", "app", ns)["spec"]["template"]["metadata"]
    assert "stateshift.k3s/restarted-at" in template.get("annotations", {})
    ledger = get("configmap", "shop-postgresql-ledger", ns)["data"]
    assert json.loads(ledger["state"]) == "cut_over"
    assert len(json.loads(ledger["cutover"])["removed_rules"]) == 2

    again = run(playbook, ns, [{"switch": "target"}])
    assert nothing_changed(again.stdout), again.stdout

    back = run(playbook, ns, [{"ledger": "rollback_started"}, {"switch": "source"}, {"ledger": "rollback_finished"}])
    assert PASSWORD not in back.stdout
    assert secret_value(ns) == SOURCE_URL
    assert get("configmap", "app-config", ns)["data"]["DB_HOST"] == SOURCE_IP
    assert get("networkpolicy", "app-egress", ns)["spec"] == policy_before
    assert get("ciliumnetworkpolicy", "cloudflared", ns)["spec"] == cilium_before
    assert "selector" not in get("service", "db", ns)["spec"]
    slice_ = get("endpointslice", "shop-postgresql-source", ns)
    assert slice_["endpoints"][0]["addresses"] == [SOURCE_IP] and slice_["ports"][0]["port"] == 5432
    # the slice and the Endpoints object the selector had made are gone too, and stay gone (the mirroring controller
    # copies a leftover Endpoints object into a new slice): kube-proxy would go on sending connections to the StatefulSet
    time.sleep(3)
    slices = kubectl("get", "endpointslice", "-n", ns, "-l", "kubernetes.io/service-name=db", "-o", "name").stdout.split()
    assert slices == ["endpointslice.discovery.k8s.io/shop-postgresql-source"]
    assert kubectl("get", "endpoints", "db", "-n", ns, check=False).returncode != 0
    assert kubectl("get", "secret", "shop-postgresql-cutover-previous", "-n", ns, check=False).returncode != 0

    again = run(playbook, ns, [{"ledger": "rollback_finished"}])
    assert nothing_changed(again.stdout), again.stdout
    recut = run(playbook, ns, [{"ledger": "cutover_started"}, {"switch": "target"}, {"ledger": "cutover_finished"}])
    assert "pointed at the StatefulSet" in recut.stdout
    assert "selector" in get("service", "db", ns)["spec"]
    assert kubectl("get", "endpointslice", "shop-postgresql-source", "-n", ns, check=False).returncode != 0


def test_a_policy_changed_since_the_cutover_is_not_overwritten(playbook, switch_namespace):
    ns = switch_namespace
    run(playbook, ns, [{"ledger": "rollback_started"}, {"switch": "source"}, {"ledger": "rollback_finished"}], check=False)
    run(playbook, ns, [{"ledger": "cutover_started"}, {"switch": "target"}, {"ledger": "cutover_finished"}])
    kubectl("patch", "networkpolicy", "app-egress", "-n", ns, "--type=json",
            "-p", '[{"op": "add", "path": "/spec/egress/-", "value": {"to": [{"ipBlock": {"cidr": "192.0.2.0/24"}}]}}]')
    failed = run(playbook, ns, [{"ledger": "rollback_started"}, {"switch": "source"}], check=False)
    assert failed.returncode != 0
    assert "was changed since the cutover removed its rules naming 10.10.50.10/32" in failed.stdout
    assert secret_value(ns) != SOURCE_URL, "nothing may be written when the plan fails"


def test_a_missing_client_is_refused_before_any_write(playbook, switch_namespace):
    ns = switch_namespace
    workloads = catalog(ns)
    workloads[0]["name"] = "other"
    workloads[0]["clients"].append({"name": "ghost"})
    extra = json.dumps({"probe_workloads": workloads, "probe_steps": [{"ledger": "cutover_started"}, {"switch": "target"}]})
    failed = playbook.run("tests/integration/playbooks/cutover_probe.yml", "-e", extra, check=False)
    assert failed.returncode != 0 and "client Deployment %s/ghost does not exist" % ns in failed.stdout
    assert kubectl("get", "service", "db", "-n", ns, "-o", "json").returncode == 0
