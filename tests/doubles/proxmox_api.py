"""Test double of the Proxmox VE API - not Proxmox VE.

A small HTTPS server on 127.0.0.1 (a self-signed certificate for 127.0.0.1 and localhost, made at start with the
``openssl`` CLI; ``ca_file`` is its path) answering the calls community.proxmox's proxmox_kvm (states stopped and
absent) and proxmox_vm_info make, with the paths, parameters and answers of the Proxmox VE 8 API viewer
(pve.proxmox.com/pve-docs/api-viewer):

- every answer is ``{"data": ...}`` (JSON); an error has HTTP status 401, 500 or 501, its message as the status
  line's reason and ``{"data": null}`` as body, as pveproxy answers;
- authentication by API token only: ``Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET``; no header: 401
  "No ticket", an unknown token: 401 "no such token 'TOKENID' for user 'USER@REALM'", a wrong secret: 401
  "invalid token value!";
- ``GET /version`` -> {version, release, repoid}; ``GET /nodes`` -> [{node, status, type, id}];
- ``GET /cluster/resources[?type=vm]`` -> [{id: qemu/VMID, type: qemu, vmid, node, name, status, template}];
- ``GET /nodes/{node}/qemu`` -> [{vmid, name, status, template}] of that node;
- ``GET /nodes/{node}/qemu/{vmid}/status/current`` -> {vmid, name, status, qmpstatus};
- ``POST /nodes/{node}/qemu/{vmid}/status/shutdown`` (forceStop, timeout) and ``.../status/stop`` -> a UPID;
- ``DELETE /nodes/{node}/qemu/{vmid}`` (purge, destroy-unreferenced-disks) -> a UPID; a running VM: 500 "VM VMID is
  running - destroy failed";
- ``GET /nodes/{node}/tasks/{upid}/status`` -> {upid, node, type, id, user, status, exitstatus, starttime, pid} and
  ``.../log`` -> [{n, t}];
- a VM that is not on the node: 500 "Configuration file 'nodes/NODE/qemu-server/VMID.conf' does not exist"; a node
  that is not in the cluster: 500 "hostname lookup 'NODE' failed"; any other path: 501 "Method 'GET /x' not
  implemented".

A task finishes as it starts: its effect is applied at once and its status is already stopped/OK (a guest always
answers the ACPI shutdown). State: ``vms`` (vmid -> {node, name, status}), ``tokens`` ("USER@REALM!TOKENID" ->
secret); every request is appended to ``calls`` as {method, path (without /api2/json), params, status}.

Left out: guests that ignore the shutdown (``forceStop`` and ``timeout`` are recorded, not acted on), ticket
(password) authentication and CSRF tokens, privileges and ACLs (every valid token may do everything), containers
(lxc), VM locks and protection, HA, pools, storage and disks (``purge`` and ``destroy-unreferenced-disks`` are
recorded, not acted on), the time a task takes, and every other path and parameter.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlparse

PREFIX = "/api2/json"
VERSION = {"version": "8.4.1", "release": "8.4", "repoid": "2a5fa54a8503f96d"}
TASK_TYPES = {"shutdown": "qmshutdown", "stop": "qmstop", "destroy": "qmdestroy"}


class ApiError(Exception):
    """An answer other than 200: the status and the message pveproxy puts in the status line."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class ProxmoxDouble:
    """The cluster's state and the answers; ``serving()`` puts it behind HTTPS."""

    def __init__(self, nodes=("pve1",), vms=None, tokens=None):
        self.nodes = list(nodes)
        self.vms = {int(vmid): dict(vm) for vmid, vm in (vms or {}).items()}
        self.tokens = dict(tokens or {})
        self.tasks, self.calls = {}, []
        self.lock = threading.Lock()
        self.ca_file = None

    def calls_to(self, method, suffix):
        """The recorded calls of ``method`` whose path ends with ``suffix``."""
        return [call for call in self.calls if call["method"] == method and call["path"].endswith(suffix)]

    def answer(self, method, path, params, authorization):
        with self.lock:
            try:
                user = self.authenticate(authorization)
                status, data = 200, self.route(method, path.strip("/").split("/"), params, user)
            except ApiError as error:
                status, data = error.status, error.message
            self.calls.append({"method": method, "path": path, "params": params, "status": status})
            return status, data

    def authenticate(self, authorization):
        scheme, _equals, credentials = (authorization or "").partition("=")
        if scheme != "PVEAPIToken" or "!" not in credentials or "=" not in credentials:
            raise ApiError(401, "No ticket")
        token, _equals, secret = credentials.partition("=")
        user, _bang, token_id = token.partition("!")
        if token not in self.tokens:
            raise ApiError(401, "no such token '%s' for user '%s'" % (token_id, user))
        if secret != self.tokens[token]:
            raise ApiError(401, "invalid token value!")
        return token

    def route(self, method, parts, params, user):
        if method == "GET" and parts == ["version"]:
            return dict(VERSION)
        if method == "GET" and parts == ["nodes"]:
            return [{"node": node, "status": "online", "type": "node", "id": "node/%s" % node} for node in self.nodes]
        if method == "GET" and parts == ["cluster", "resources"]:
            return [self.resource(vmid) for vmid in sorted(self.vms)] if params.get("type") in (None, "vm") else []
        if len(parts) >= 3 and parts[0] == "nodes":
            return self.node_call(method, parts[1], parts[2:], params, user)
        raise ApiError(501, "Method '%s /%s' not implemented" % (method, "/".join(parts)))

    def node_call(self, method, node, parts, params, user):
        if node not in self.nodes:
            raise ApiError(500, "hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known"
                           % (node, node))
        if parts[0] == "tasks" and len(parts) == 3 and method == "GET":
            return self.task(node, unquote(parts[1]), parts[2])
        if parts == ["qemu"] and method == "GET":
            return [dict(self.listed(vmid), vmid=vmid) for vmid in sorted(self.vms) if self.vms[vmid]["node"] == node]
        if parts[0] == "qemu" and len(parts) >= 2 and parts[1].isdigit():
            return self.vm_call(method, node, int(parts[1]), parts[2:], params, user)
        raise ApiError(501, "Method '%s /nodes/%s/%s' not implemented" % (method, node, "/".join(parts)))

    def vm_call(self, method, node, vmid, parts, params, user):
        vm = self.vms.get(vmid)
        if vm is None or vm["node"] != node:
            raise ApiError(500, "Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist" % (node, vmid))
        if method == "GET" and parts == ["status", "current"]:
            return dict(self.listed(vmid), vmid=vmid, qmpstatus=vm["status"])
        if method == "POST" and parts in (["status", "shutdown"], ["status", "stop"]):
            vm["status"] = "stopped"
            return self.new_task(node, parts[1], vmid, user, "OK")
        if method == "DELETE" and parts == []:
            if vm["status"] == "running":
                raise ApiError(500, "VM %d is running - destroy failed" % vmid)
            del self.vms[vmid]
            return self.new_task(node, "destroy", vmid, user, "OK")
        raise ApiError(501, "Method '%s /nodes/%s/qemu/%d/%s' not implemented" % (method, node, vmid, "/".join(parts)))

    def resource(self, vmid):
        vm = self.vms[vmid]
        return dict(self.listed(vmid), id="qemu/%d" % vmid, type="qemu", vmid=vmid, node=vm["node"])

    def listed(self, vmid):
        vm = self.vms[vmid]
        return {"name": vm.get("name", "VM%d" % vmid), "status": vm["status"], "template": 0}

    def new_task(self, node, action, vmid, user, exitstatus):
        started = int(time.time())
        upid = "UPID:%s:%08X:%08X:%08X:%s:%d:%s:" % (node, os.getpid(), len(self.tasks) + 1, started, TASK_TYPES[action], vmid, user)
        self.tasks[upid] = {"upid": upid, "node": node, "type": TASK_TYPES[action], "id": str(vmid), "user": user, "status": "stopped",
                            "exitstatus": exitstatus, "starttime": started, "pid": os.getpid(), "pstart": len(self.tasks) + 1}
        return upid

    def task(self, node, upid, what):
        task = self.tasks.get(upid)
        if task is None or task["node"] != node:
            raise ApiError(500, "unable to parse worker upid '%s'" % upid)
        if what == "status":
            return dict(task)
        if what == "log":
            return [{"n": 1, "t": "TASK %s" % task["exitstatus"]}]
        raise ApiError(501, "Method 'GET /nodes/%s/tasks/%s/%s' not implemented" % (node, upid, what))


def handler_for(double):
    class Handler(BaseHTTPRequestHandler):
        server_version = "pve-api-daemon/3.0"

        def log_message(self, *args):  # keep test output quiet
            pass

        def handle_call(self, method):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = self.rfile.read(length).decode("utf-8") if length else ""
            params = dict(parse_qsl(url.query) + parse_qsl(form))
            path = url.path[len(PREFIX):] if url.path.startswith(PREFIX + "/") else url.path
            status, data = double.answer(method, path, params, self.headers.get("Authorization"))
            body = json.dumps({"data": data if status == 200 else None}).encode("utf-8")
            self.send_response(status, None if status == 200 else data)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.handle_call("GET")

        def do_POST(self):
            self.handle_call("POST")

        def do_DELETE(self):
            self.handle_call("DELETE")

    return Handler


def self_signed_certificate(directory):
    """A certificate and key for 127.0.0.1 and localhost, made by the openssl CLI: (certificate, key)."""
    certificate, key = os.path.join(directory, "pve-ssl.pem"), os.path.join(directory, "pve-ssl.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", certificate],
                   check=True, capture_output=True)
    return certificate, key


@contextlib.contextmanager
def serving(double):
    """``with serving(double) as port:`` - the double on https://127.0.0.1:<port>/api2/json; ``double.ca_file`` trusts it."""
    directory = tempfile.mkdtemp(prefix="proxmox-double-")
    server = None
    try:
        certificate, key = self_signed_certificate(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(double))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        double.ca_file = certificate
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address[1]
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        shutil.rmtree(directory, ignore_errors=True)
