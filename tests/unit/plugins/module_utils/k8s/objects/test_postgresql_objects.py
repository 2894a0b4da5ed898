"""What the PostgreSQL objects promise: values as data, a restricted-ready pod, no lowered Pod Security, a closed network."""

from __future__ import annotations

import copy
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import pod_security, scripts
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.postgresql import postgresql_objects
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate import worker

from .samples import SHOP, WIKI

HOSTILE_VALUES = ["{{ lookup('pipe', 'id') }}", "{% raw %}", "---", "...", "a; DROP TABLE x", "$(id)", "`id`", "it's", '"q"',
                  "C:\\new\\table", "include '/etc/passwd'"]


def built(sample, **changes):
    workload = copy.deepcopy(sample)
    workload.update(changes)
    objects = postgresql_objects(validate_catalog([workload])[0])
    suffixes = {"-hl": "/headless", "-init": "/init"}
    return {o["kind"] + next((tag for end, tag in suffixes.items() if o["metadata"]["name"].endswith(end)), ""): o for o in objects}


def unquote_conf(literal):
    """What PostgreSQL's configuration lexer reads from a quoted value (guc-file.l: '' and backslash escapes)."""
    assert literal.startswith("'") and literal.endswith("'")
    body, out, index = literal[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" or (char == "'" and body[index + 1] == "'"):
            out.append(body[index + 1])
            index += 2
        else:
            assert char != "'", literal
            out.append(char)
            index += 1
    return "".join(out)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_a_setting_value_lands_verbatim_in_one_line_of_the_settings_file(value):
    conf = built(SHOP, settings={"application_name": value, "work_mem": "4MB"})["ConfigMap"]["data"]["stateshift.conf"]
    lines = conf.splitlines()
    assert len(lines) == 2 and lines[1] == "work_mem = '4MB'"
    name, _equals, literal = lines[0].partition(" = ")
    assert name == "application_name" and unquote_conf(literal) == value


def test_a_newline_in_a_setting_value_is_never_written():
    with pytest.raises(ValueError):
        scripts.postgresql_conf({"application_name": "a\nshared_preload_libraries = 'evil'"})


def test_no_catalog_name_is_pasted_into_the_init_sql():
    script = built(SHOP)["ConfigMap/init"]["data"]["10-stateshift-init.sh"]
    sql = script.split("<<'EOSQL'\n", 1)[1]
    for name in ("readers", "reporter", "auditor", "reports", "audit", "shop"):
        assert name not in sql, name
    assert "-v role_2=reporter" in script and "-v owner_2=shop <<'EOSQL'" in script


def test_role_passwords_are_numbered_the_same_in_the_script_and_the_pod():
    objects = built(SHOP)
    env = [e["name"] for e in objects["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]["env"]]
    sql = scripts.init_sql(validate_catalog([SHOP])[0])
    # readers has no password: reporter is the first role with one, in the pod and in the script.
    assert [e for e in env if e.startswith("STATESHIFT_ROLE_PASSWORD_")] == ["STATESHIFT_ROLE_PASSWORD_1", "STATESHIFT_ROLE_PASSWORD_2"]
    first = sql.index("\\set role_password `printf '%s' \"$STATESHIFT_ROLE_PASSWORD_1\"`")
    after = sql[first:]
    assert after[after.index("\\endif") + 3] == "ALTER ROLE :\"role_2\" PASSWORD :'role_password';"


def test_the_init_script_creates_roles_and_databases_whose_names_need_quoting(local_postgres):
    owner = "Init-Probe_Owner"
    local_postgres.psql('CREATE ROLE "%s"' % owner)
    roles = [{"name": "init_probe_reader", "password_key": "p"}, {"name": "init_probe_group", "login": False}]
    workload = validate_catalog([dict(SHOP, auth={"user": owner}, databases=["init_probe_main", {"name": "init_probe_db"}],
                                      roles=roles, secrets={})])[0]
    with tempfile.TemporaryDirectory() as pgdata:
        conf = Path(pgdata) / "postgresql.conf"
        conf.write_text("")
        env = dict(os.environ, PGDATA=pgdata, POSTGRES_USER="postgres", PGHOST=local_postgres.socket_dir,
                   PGPORT=str(local_postgres.port), STATESHIFT_ROLE_PASSWORD_1="it's \"quoted\" $(id) ;")
        env["PATH"] = local_postgres.bin + os.pathsep + env["PATH"]
        subprocess.run(["sh", "-c", scripts.init_script(workload)], env=env, check=True, capture_output=True)
        assert "include_if_exists" in conf.read_text()
    try:
        found = local_postgres.psql("SELECT rolname || ':' || rolcanlogin || ':' || (rolpassword IS NOT NULL) FROM pg_authid "
                                    "WHERE rolname LIKE 'init_probe%' ORDER BY 1").stdout.split()
        assert found == ["init_probe_group:false:false", "init_probe_reader:true:true"]
        owner_of = local_postgres.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'init_probe_db'").stdout.strip()
        assert owner_of == owner
    finally:
        local_postgres.psql("DROP DATABASE IF EXISTS init_probe_db")
        local_postgres.psql('DROP ROLE IF EXISTS init_probe_reader, init_probe_group, "%s"' % owner)


@pytest.mark.parametrize(("wanted", "existing", "expected"), [
    ("baseline", {}, {"enforce": "baseline", "warn": "baseline", "audit": "baseline"}),
    ("baseline", {"pod-security.kubernetes.io/enforce": "restricted"},
     {"enforce": "restricted", "warn": "baseline", "audit": "baseline"}),
    ("restricted", {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "privileged"},
     {"enforce": "restricted", "warn": "restricted", "audit": "restricted"}),
    ("privileged", {"pod-security.kubernetes.io/audit": "baseline", "pod-security.kubernetes.io/warn": "nonsense"},
     {"enforce": "privileged", "warn": "privileged", "audit": "baseline"}),
])
def test_a_namespace_level_is_raised_never_lowered(wanted, existing, expected):
    assert pod_security.levels(wanted, existing) == expected
    assert pod_security.kept_stricter(wanted, existing) == {m: v for m, v in expected.items() if v != wanted}


def test_the_namespace_object_keeps_a_stricter_existing_level():
    workload = validate_catalog([dict(SHOP, pod_security="baseline")])[0]
    namespace = postgresql_objects(workload, namespace_labels={"pod-security.kubernetes.io/enforce": "restricted", "other": "x"})[0]
    labels = namespace["metadata"]["labels"]
    assert labels == {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "baseline",
                      "pod-security.kubernetes.io/audit": "baseline"}


def restricted_problems(pod_spec):
    """Where ``pod_spec`` breaks Pod Security "restricted" (the checks that apply to what we build)."""
    problems = []
    security = pod_spec.get("securityContext", {})
    allowed_volumes = {"configMap", "emptyDir", "persistentVolumeClaim", "secret", "projected", "downwardAPI", "csi", "ephemeral"}
    for volume in pod_spec.get("volumes", []):
        problems += ["volume %s" % kind for kind in volume if kind != "name" and kind not in allowed_volumes]
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        problems += [flag] if pod_spec.get(flag) else []
    if security.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Localhost"):
        problems.append("seccompProfile")
    for container in pod_spec["containers"] + pod_spec.get("initContainers", []):
        context = container.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation")
        capabilities = context.get("capabilities", {})
        if capabilities.get("drop") != ["ALL"] or set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append("capabilities")
        if not (context.get("runAsNonRoot") or security.get("runAsNonRoot")) or 0 in (context.get("runAsUser"), security.get("runAsUser")):
            problems.append("runAsNonRoot")
        problems += ["privileged"] if context.get("privileged") else []
    return problems


def test_every_pod_we_create_passes_restricted_and_mounts_no_token():
    objects = built(SHOP)
    pods = {"StatefulSet": objects["StatefulSet"]["spec"]["template"]["spec"],
            "CronJob": objects["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]}
    job = worker.manifests({"app": "a", "migration_job": "j", "migration_source_secret": "s"}, "postgres:18", "pw", "t", "k", 60)
    pods["migration Job"] = job["items"][1]["spec"]["template"]["spec"]
    assert {name: restricted_problems(spec) for name, spec in pods.items()} == {name: [] for name in pods}
    assert {name: spec.get("automountServiceAccountToken") for name, spec in pods.items()} == {name: False for name in pods}


def test_the_network_policy_admits_only_the_catalog_peers_and_our_own_pods():
    objects = built(SHOP)
    policy = objects["NetworkPolicy"]["spec"]
    peers = policy["ingress"][0]["from"]
    assert {"podSelector": {}} not in peers and all(p.get("podSelector") != {} and p.get("namespaceSelector") != {} for p in peers)
    backup_pod_labels = objects["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert peers[:2] == [{"podSelector": {"matchLabels": backup_pod_labels}},
                         {"podSelector": {"matchLabels": {worker.LABEL: "shop-postgresql"}}}]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["egress"] == [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]


def test_egress_is_left_open_when_the_catalog_says_so():
    policy = built(WIKI)["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress"] and "egress" not in policy


def test_online_mode_lets_the_subscription_reach_the_source():
    source = {"host": "vm", "container": "db", "database": "shop", "address": "10.0.0.5:15432"}
    online = dict(SHOP, migration={"mode": "online"}, source=source)
    egress = built(online)["NetworkPolicy"]["spec"]["egress"]
    assert egress[1] == {"ports": [{"port": 15432, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "10.0.0.5/32"}}]}
    by_name = dict(online, source={"host": "vm", "container": "db", "database": "shop"})
    assert built(by_name)["NetworkPolicy"]["spec"]["egress"][1] == {"ports": [{"port": 5432, "protocol": "TCP"}]}
