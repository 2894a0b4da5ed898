"""A real S3 server for the off-site backup tests: versitygw (an Apache-2.0 S3 gateway, built from the Go module
proxy by tests/lab/cluster/build.sh versitygw) serving a directory, checking SigV4 signatures, on the lab node's
bridge address so that pods reach it as they would a NAS or a cloud bucket."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

from .conftest import REPO

BUILD = REPO / "tests" / "lab" / "cluster" / "build.sh"
# The pods' gateway on the lab's real node (tests/lab/cluster/common.sh NODE_BRIDGE_IP).
POD_GATEWAY = "10.244.0.1"


def free_port(host):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class S3Server:
    def __init__(self, root):
        self.root = Path(root)
        self.port = free_port(POD_GATEWAY)
        self.access_key = "AK" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(24)
        self.process = None

    @property
    def endpoint(self):
        return "http://%s:%d" % (POD_GATEWAY, self.port)

    def start(self):
        subprocess.run([str(BUILD), "versitygw"], check=True, capture_output=True)
        binary = subprocess.run([str(BUILD), "--print-dir", "versitygw"], check=True, capture_output=True, text=True).stdout.strip()
        env = dict(os.environ, ROOT_ACCESS_KEY=self.access_key, ROOT_SECRET_KEY=self.secret_key)
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = open(self.root.parent / "versitygw.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen([binary + "/versitygw", "--port", "%s:%d" % (POD_GATEWAY, self.port), "posix", str(self.root)],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection((POD_GATEWAY, self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
        raise AssertionError("versitygw did not start: %s" % (self.root.parent / "versitygw.log").read_text())

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.log.close()

    def make_bucket(self, name):
        (self.root / name).mkdir()

    def put(self, bucket, key, data, age_days=0):
        """An object written straight into the backend, as an earlier backup would have left it ``age_days`` ago."""
        path = self.root / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stamp = time.time() - age_days * 86400
        os.utime(path, (stamp, stamp))

    def keys(self, bucket):
        base = self.root / bucket
        found = (path.relative_to(base) for path in base.rglob("*") if path.is_file())
        return sorted(str(key) for key in found if not any(part.startswith(".") for part in key.parts))
