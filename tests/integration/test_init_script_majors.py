"""The StatefulSet's init script on the oldest and the newest major of the lab: the roles it creates log in
with the passwords from the environment (PostgreSQL 14's psql has no \\getenv, so the script must not need it).

Docker only: the lab's postgres:<major> image runs the script from /docker-entrypoint-initdb.d, as the pod does.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import scripts

pytestmark = pytest.mark.lab

PASSWORD = "it's \"quoted\" $(id) `id` ;"
WORKLOAD = {"name": "initprobe", "engine": "postgresql", "storage": {"size": "1Gi"}, "databases": ["initprobe", "extra_db"],
            "roles": [{"name": "reporter", "password_key": "reporter-password"}, {"name": "readers", "login": False}]}


def docker(*args, check=True):
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError("docker %s: %s" % (" ".join(args[:3]), result.stderr))
    return result


@pytest.mark.parametrize("major", ["14", "18"])
def test_roles_get_their_passwords_on_every_major(major, tmp_path):
    init = tmp_path / "initdb.d"
    init.mkdir(mode=0o755)
    (init / "10-stateshift-init.sh").write_text(scripts.init_script(validate_catalog([WORKLOAD])[0]))
    (init / "10-stateshift-init.sh").chmod(0o755)
    init.chmod(0o755)
    name = "stateshift-initprobe-%s-%s" % (major, uuid.uuid4().hex[:6])
    try:
        docker("run", "-d", "--name", name, "-e", "POSTGRES_USER=initprobe", "-e", "POSTGRES_PASSWORD=Owner-Pass-1",
               "-e", "POSTGRES_DB=initprobe", "-e", "POSTGRES_INITDB_ARGS=--no-sync", "-e", "STATESHIFT_ROLE_PASSWORD_1=" + PASSWORD,
               "-v", "%s:/docker-entrypoint-initdb.d:ro" % init, "postgres:%s" % major)
        deadline = time.monotonic() + 90
        while docker("exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "initprobe", check=False).returncode != 0:
            running = docker("inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip()
            if running != "true" or time.monotonic() > deadline:
                logs = docker("logs", "--tail", "30", name, check=False)
                raise AssertionError("postgres:%s with the init script did not start:\n%s%s" % (major, logs.stdout, logs.stderr))
            time.sleep(0.5)

        address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()

        def login(password):
            # from this machine, as a client would: inside the container, 127.0.0.1 is trusted without a password
            return subprocess.run(["psql", "-X", "-At", "-h", address, "-U", "reporter", "-d", "extra_db", "-c",
                                   "SELECT current_user || ' ' || current_setting('server_version_num')"],
                                  env={"PGPASSWORD": password, "PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10"},
                                  capture_output=True, text=True, check=False)

        good = login(PASSWORD)
        assert good.returncode == 0, good.stderr
        assert good.stdout.split() == ["reporter", good.stdout.split()[1]] and good.stdout.split()[1][:2] == major
        assert login(PASSWORD + "x").returncode != 0, "a wrong password logged in: the check proves nothing"
        assert PASSWORD not in docker("logs", name).stdout + docker("logs", name).stderr
    finally:
        docker("rm", "-f", "-v", name, check=False)
