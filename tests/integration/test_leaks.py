"""Leak scan: every phase of the collection, at -vvv with the JSON callback, and no known secret value
anywhere it must not be.

Phases run, in order, against the lab (cluster, legacy Docker host, the 1Password op CLI double):
validate, preflight, secrets, databases, secrets with a rotation, migrate.

Values looked for (each also as base64 when 8 characters or longer): the source database's password,
the target's postgres password from 1Password (8 characters), the password a rotation makes, a
generated secret, a 6-character value, and the op service-account token of the double.

Surfaces scanned (9):
 1. stdout of every run;
 2. stderr of every run;
 3. the JSON callback's events, parsed (so JSON-escaped text is compared unescaped);
 4. the fact cache (jsonfile plugin in a private directory), which must not be empty;
 5. the Kubernetes objects of the test namespace - Secrets without their ``data`` (annotations,
    labels, managedFields), ConfigMaps, Jobs, CronJobs, Pods (env, args, annotations), StatefulSets,
    Deployments, Services, PVCs, NetworkPolicies, PDBs, Events;
 6. ``ps -eo args`` sampled every 100 ms during the runs;
 7. files under ~/.ansible/tmp and /tmp/ansible-* present while the runs go on, sampled every 100 ms
    (module files carrying their arguments exist only during a task);
 8. files changed (mtime) under /tmp, the repository and ~/.ansible during the runs, except the op
    double's own vault file (it is 1Password: it holds the values by design) in the test's tmp dir;
 9. the 1Password double's argv log: no op call had a value in its argv.

The migrate phase belongs to another part of the collection: its output is scanned like every other
phase, but whether it succeeded is a separate test (test_the_migrate_phase_ran), so a migration
failure is not reported as a leak and a leak is not hidden by a migration failure.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
import uuid

import pytest

from tests.doubles.harness import OP_DOUBLE, FakeOnePassword

from .conftest import CACHE, KUBECONFIG, LEGACY_INVENTORY, REPO, kubectl
from .secrets_helpers import files_newer_than

# It reads every file under /tmp: another test's temporary files must not be there meanwhile.
pytestmark = pytest.mark.serial

PLAYBOOKS = REPO / "playbooks"
SOURCE_PASSWORD_FILE = CACHE / "lab" / "legacy" / "postgres-password"
TARGET_PASSWORD = "Lk8vQ2zR"  # short on purpose: 8 characters
SHORT_VALUE = "Qx9Lm4"  # 6 characters
KINDS = "secrets,configmaps,jobs,cronjobs,pods,statefulsets,deployments,services,pvc,networkpolicies,pdb,events"


class Sampler(threading.Thread):
    """Every 100 ms: the argv of every process, and the files under ~/.ansible/tmp and /tmp/ansible-*."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.argv, self.files, self.samples = set(), {}, 0

    def run(self):
        roots = [os.path.expanduser("~/.ansible/tmp")]
        while not self.stop.is_set():
            listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False).stdout
            self.argv.update(listing.splitlines())
            for root in roots + ["/tmp/" + name for name in os.listdir("/tmp") if name.startswith("ansible-")]:
                for directory, _dirs, names in os.walk(root):
                    for name in names:
                        self._read(os.path.join(directory, name))
            self.samples += 1
            time.sleep(0.1)

    def _read(self, path):
        try:
            if os.path.getsize(path) < 20 * 1024 * 1024:
                with open(path, "rb") as handle:
                    self.files[path] = self.files.get(path, b"") + handle.read()
        except OSError:
            pass


def run_phase(playbook, fake, workloads, cache_dir, *extra):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_CACHE_PLUGIN="jsonfile", ANSIBLE_CACHE_PLUGIN_CONNECTION=str(cache_dir), KUBECONFIG=KUBECONFIG,
               **fake.cli_env())
    env.pop("OP_CONNECT_HOST", None)
    env.pop("OP_CONNECT_TOKEN", None)
    variables = {"stateshift_workloads": workloads, "secrets_op_bin": str(OP_DOUBLE), "secrets_op_backoff": 0.01}
    argv = ["ansible-playbook", "-vvv", "-i", str(REPO / "inventories" / "lab"), "-i", str(LEGACY_INVENTORY),
            str(playbook), "-e", json.dumps(variables), *extra]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env, check=False)


def workload(namespace):
    return {"name": "leaky", "namespace": namespace, "engine": "postgresql", "version": "15", "storage": {"size": "1Gi"},
            "databases": ["invoicetron"], "auth": {"secret": "leaky-secrets", "user": "leaky"},
            "source": {"host": "legacy-vm", "container": "invoicetron-db", "database": "invoicetron", "user": "invoicetron"},
            "secrets": {"leaky-secrets": {
                "postgres-password": {"op": "op://Kubernetes/Leaky/postgres-password", "generate": "hex32", "rotate": True,
                                      "role": "leaky"},
                "session-secret": {"op": "op://Kubernetes/Leaky/session-secret", "generate": "base64_32"},
                "pin": {"op": "op://Kubernetes/Leaky/pin"}}}}


def events_text(stdout):
    """The parsed JSON callback document, dumped again with every string unescaped."""
    try:
        document = json.loads(stdout[stdout.index("{"):])
    except ValueError:
        return ""
    return json.dumps(document, ensure_ascii=False)


def objects_text(namespace):
    found = json.loads(kubectl("get", KINDS, "-n", namespace, "-o", "json", "--show-managed-fields").stdout)
    for item in found["items"]:
        if item["kind"] == "Secret":
            item.pop("data", None)
    return json.dumps(found, ensure_ascii=False), {item["kind"] for item in found["items"]}


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory, cluster, legacy_host):
    tmp = tmp_path_factory.mktemp("leaks")
    cache_dir = tmp / "fact-cache"
    fake = FakeOnePassword(tmp)
    fake.seed("Kubernetes", "Leaky", {"postgres-password": TARGET_PASSWORD, "pin": SHORT_VALUE})
    namespace = "leaks-%s" % uuid.uuid4().hex[:8]
    workloads = [workload(namespace)]
    sampler = Sampler()
    start = time.time() - 1
    sampler.start()
    runs = {}
    try:
        for phase, playbook, extra in (("validate", "validate.yml", ()), ("preflight", "preflight.yml", ()),
                                       ("secrets", "secrets.yml", ()), ("databases", "databases.yml", ()),
                                       ("rotation", "secrets.yml", ("-e", '{"secrets_rotate": ["leaky"]}')),
                                       ("migrate", "migrate.yml", ())):
            runs[phase] = run_phase(PLAYBOOKS / playbook, fake, workloads, cache_dir, *extra)
            if runs[phase].returncode != 0 and phase != "migrate":
                break
    finally:
        sampler.stop.set()
        sampler.join()
    objects, kinds = objects_text(namespace)
    state = fake.read()
    values = {"source password": SOURCE_PASSWORD_FILE.read_text().strip(), "target password": TARGET_PASSWORD,
              "6-character value": SHORT_VALUE, "op token": fake.service_account_token,
              "generated secret": fake.value("Kubernetes", "Leaky", "session-secret") or "",
              "rotated password": fake.value("Kubernetes", "Leaky", "postgres-password") or ""}
    cache_files = {str(path): path.read_bytes() for path in cache_dir.rglob("*") if path.is_file()} if cache_dir.exists() else {}
    changed = dict(files_newer_than(start, ["/tmp", str(REPO), os.path.expanduser("~/.ansible")], skip={fake.path}))
    yield {
        "runs": runs, "values": values, "kinds": kinds, "samples": sampler.samples,
        "surfaces": {
            "stdout": {name: run.stdout for name, run in runs.items()},
            "stderr": {name: run.stderr for name, run in runs.items()},
            "json events": {name: events_text(run.stdout) for name, run in runs.items()},
            "fact cache": cache_files,
            "kubernetes objects": {namespace: objects},
            "process argv": {"ps -eo args": "\n".join(sorted(sampler.argv))},
            "files during the run": sampler.files,
            "files changed": changed,
            "op argv log": {"argv_leaks": json.dumps(state.get("argv_leaks"))},
        },
    }
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def forms(value):
    """The value, and its base64 when it is long enough for that to be distinctive."""
    found = [value]
    if len(value) >= 8:
        found.append(base64.b64encode(value.encode()).decode())
    return found


def masked(text, values):
    """``text`` with every form of every value replaced by its label, so a failure message leaks nothing."""
    for label, value in values.items():
        for form in forms(value) if value else ():
            text = text.replace(form, "<%s>" % label)
    return text


def test_the_phases_before_migrate_ran(leak_run):
    for phase in ("validate", "preflight", "secrets", "databases", "rotation"):
        run = leak_run["runs"].get(phase)
        assert run is not None and run.returncode == 0, "%s: %s" % (phase, (run.stdout[-3000:] if run else "did not run"))
    values = leak_run["values"]
    assert values["rotated password"] not in ("", TARGET_PASSWORD), "the rotation did not happen"
    assert len(values["generated secret"]) == 44 and values["source password"]
    assert leak_run["samples"] > 50
    assert {"Secret", "StatefulSet", "Pod", "ConfigMap"} <= leak_run["kinds"], leak_run["kinds"]
    assert leak_run["surfaces"]["fact cache"], "the fact cache is empty: the scan of it would prove nothing"


def test_the_migrate_phase_ran(leak_run):
    """Not a leak test: the migrate phase is another engineer's; its output is scanned either way."""
    run = leak_run["runs"].get("migrate")
    assert run is not None and run.returncode == 0, run.stdout[-4000:] if run else "did not run"


@pytest.mark.parametrize("surface", ["stdout", "stderr", "json events", "fact cache", "kubernetes objects",
                                     "process argv", "files during the run", "files changed", "op argv log"])
def test_no_secret_value_on(leak_run, surface):
    leaks = []
    for where, content in leak_run["surfaces"][surface].items():
        text = content if isinstance(content, bytes) else content.encode("utf-8")
        for label, value in leak_run["values"].items():
            for form in forms(value) if value else ():
                at = text.find(form.encode("utf-8"))
                if at >= 0:
                    context = text[max(0, at - 160):at + len(form) + 80].decode("utf-8", "replace")
                    leaks.append("%s in %s: ...%s..." % (label, where, masked(context, leak_run["values"])))
    assert leaks == [], "\n\n".join(leaks)
    if surface == "op argv log":
        assert leak_run["surfaces"][surface] == {"argv_leaks": "[]"}
