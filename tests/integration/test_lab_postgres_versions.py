"""Every postgres:<major> tag of the lab is that major, with the official image's entrypoint contract.

Only Docker is used (no cluster, no legacy host): for each major the image that image-map.txt gives
postgres:<major> is started with POSTGRES_USER/PASSWORD/DB and an init script in
/docker-entrypoint-initdb.d, and the server, its client tools and the init script are checked.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
IMAGE_MAP = REPO / "tests" / "lab" / "docker" / "image-map.txt"
MAJORS = ["14", "15", "16", "17", "18"]
TOOLS = ["postgres", "initdb", "pg_ctl", "psql", "pg_dump", "pg_dumpall", "pg_restore", "vacuumdb", "pg_isready"]
INIT_SQL = "CREATE TABLE lab_init (major text);\nINSERT INTO lab_init SELECT current_setting('server_version_num');\n"


def image_map():
    aliases = {}
    for line in IMAGE_MAP.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2:
            aliases[fields[0]] = fields[1]
    return aliases


def docker(*args, check=True, timeout=60):
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError("docker %s failed (rc=%d): %s" % (" ".join(args[:3]), result.returncode, result.stderr))
    return result


@pytest.fixture(scope="module")
def images():
    if docker("info", check=False).returncode != 0:
        pytest.fail("no Docker engine answers: run tests/lab/docker/engine.sh ensure")
    aliases = image_map()
    local = {}
    for major in MAJORS:
        for tag in ("postgres:%s" % major, "postgres:%s-alpine" % major):
            assert tag in aliases, "image-map.txt has no %s" % tag
        assert aliases["postgres:%s-alpine" % major] == aliases["postgres:%s" % major]
        target = aliases["postgres:%s" % major]
        if docker("image", "inspect", target, check=False).returncode != 0:
            pytest.fail("%s is not built: run tests/lab/docker/images.sh build" % target)
        local[major] = target
    return local


def start_and_check(major, image, init_dir):
    """Start IMAGE like a user would, wait until it answers, check it is MAJOR; return a report."""
    name = "stateshift-test-pg%s-%s" % (major, uuid.uuid4().hex[:6])
    try:
        docker("run", "-d", "--name", name, "-e", "POSTGRES_USER=labuser", "-e", "POSTGRES_PASSWORD=Lab-Pass-1",
               "-e", "POSTGRES_DB=labdb", "-e", "POSTGRES_INITDB_ARGS=--no-sync",
               "-v", "%s:/docker-entrypoint-initdb.d:ro" % init_dir, image)
        deadline = time.monotonic() + 90
        while True:
            # TCP, as the probes of the StatefulSet ask: the init server listens on the socket only
            ready = docker("exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "labuser", "-d", "labdb",
                           check=False)
            if ready.returncode == 0:
                break
            state = docker("inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip()
            if state != "true" or time.monotonic() > deadline:
                logs = docker("logs", "--tail", "30", name, check=False)
                raise AssertionError("postgres:%s did not get ready (running=%s):\n%s%s"
                                     % (major, state, logs.stdout, logs.stderr))
            time.sleep(0.5)

        def sql(query):
            return docker("exec", name, "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-U", "labuser", "-d", "labdb",
                          "-c", query).stdout.strip()

        report = {
            "version": sql("SELECT version()"),
            "version_num": sql("SHOW server_version_num"),
            "init": sql("SELECT major FROM lab_init"),
            "tcp": docker("exec", "-e", "PGPASSWORD=Lab-Pass-1", name, "psql", "-X", "-At", "-h", "127.0.0.1",
                          "-U", "labuser", "-d", "labdb", "-c", "SELECT current_user").stdout.strip(),
            # found on the image's PATH, as docker exec and kubectl exec find them
            "tools": dict(zip(TOOLS, docker("exec", name, "sh", "-c", 'for t; do "$t" --version; done', "sh",
                                            *TOOLS).stdout.splitlines())),
            "dump": docker("exec", name, "pg_dump", "-U", "labuser", "-d", "labdb", "-t", "lab_init").stdout,
        }
        return report
    finally:
        docker("rm", "-f", "-v", name, check=False)


def test_each_tag_serves_its_major(images, tmp_path):
    init_dir = tmp_path / "initdb.d"
    init_dir.mkdir()
    (init_dir / "10-lab.sql").write_text(INIT_SQL)
    init_dir.chmod(0o755)
    (init_dir / "10-lab.sql").chmod(0o644)
    # two at a time: the machine has 2 cores
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = dict(zip(MAJORS, pool.map(lambda m: start_and_check(m, images[m], init_dir), MAJORS)))
    for major, report in reports.items():
        assert report["version"].startswith("PostgreSQL %s." % major), report["version"]
        assert report["version_num"][:2] == major, report["version_num"]
        assert report["init"] == report["version_num"], "the init script did not run on postgres:%s" % major
        assert report["tcp"] == "labuser"
        for tool, output in report["tools"].items():
            assert output.startswith("%s (PostgreSQL) %s." % (tool, major)), output
        assert "CREATE TABLE public.lab_init" in report["dump"]


def test_majors_are_distinct_images(images):
    assert len(set(images.values())) == len(MAJORS), images
