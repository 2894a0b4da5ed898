"""TEST DOUBLE of a Synology NAS's DSM Web API - not DSM.

A small HTTP server on 127.0.0.1 answering ``/webapi/entry.cgi`` (GET query or POST form) for the calls
stateshift.k3s.synology_nfs makes, with the request parameters and answers documented for DSM 7 (the DSM Login Web
API Guide's codes, and the shapes used by the maintained DSM clients: N4S4/synology-api, py-synologydsm-api,
dsmctl):

- every answer is ``{"success": true, "data": {...}}`` or ``{"success": false, "error": {"code": N}}`` with HTTP 200;
  parameters holding objects or lists are JSON text; a string may come JSON-quoted or bare;
- ``SYNO.API.Auth`` v6 ``login`` (account, passwd, session, format=sid, enable_syno_token=yes) -> {sid, synotoken};
  400 wrong account or password, 403 when the account has 2-step verification, 407 once an address failed
  ``block_after`` times; ``logout`` ends the sid;
- every other call needs a live ``_sid`` (else 119) and, for a change, the SynoToken in ``X-SYNO-TOKEN`` (else 105);
- ``SYNO.Core.FileServ.NFS`` v3 ``get`` -> the whole settings object; ``set`` takes the whole object (a field
  missing: 2001);
- ``SYNO.Core.Share`` v1 ``list`` -> {shares: [{name, vol_path, desc}], total}; ``create`` (name, shareinfo): 3301
  name taken, 3304 no such volume;
- ``SYNO.Core.FileServ.NFS.SharePrivilege`` v1 ``load`` (share_name) -> {rule: [...]}, ``save`` (share_name, rule)
  replaces the whole list; 2370 no such share, 2301 a rule value DSM refuses or the NFS service off.

State is a dict (``nas``) the test prepares and reads; ``calls`` lists (api, method) of each call after login.
Left out: HTTPS, cookies, SYNO.API.Info, encryption of parameters, every other API and field.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

NFS_FIELDS = ("enable_nfs", "enable_nfs_v4", "enabled_minor_ver", "nfs_v4_domain", "read_size", "write_size", "support_encrypt_share",
              "support_major_ver", "support_minor_ver", "unix_pri_enable")
SQUASH = ("root", "admin", "guest", "all_admin", "all_guest")
FLAVORS = ("sys", "kerberos", "kerberos_integrity", "kerberos_privacy")
CHANGES = {("SYNO.Core.FileServ.NFS", "set"), ("SYNO.Core.Share", "create"), ("SYNO.Core.FileServ.NFS.SharePrivilege", "save")}


def fresh_nas(account="stateshift", password="Nas-Admin-1", volumes=("/volume1",)):
    """A NAS as it comes: NFS off, no shared folder."""
    return {"account": account, "password": password, "two_step": False, "block_after": 5, "failures": 0, "volumes": list(volumes),
            "nfs": {"enable_nfs": False, "enable_nfs_v4": False, "enabled_minor_ver": 0, "nfs_v4_domain": "", "read_size": 131072,
                    "write_size": 131072, "support_encrypt_share": 1, "support_major_ver": 4, "support_minor_ver": 1,
                    "unix_pri_enable": True},
            "shares": {}, "rules": {}}


def value(raw):
    """A parameter as DSM reads it: JSON when it parses, else the bare string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class Refused(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class DsmDouble:
    def __init__(self, nas):
        self.nas, self.calls, self.sessions = nas, [], {}
        self.lock = threading.Lock()

    def answer(self, params, token):
        api, method = params.get("api"), params.get("method")
        with self.lock:
            try:
                if api == "SYNO.API.Auth":
                    return {"success": True, "data": self.auth(method, params)}
                if self.sessions.get(params.get("_sid")) is None:
                    raise Refused(119)
                if (api, method) in CHANGES and token != self.sessions[params["_sid"]]:
                    raise Refused(105)
                self.calls.append((api, method))
                handler = {"SYNO.Core.FileServ.NFS": self.nfs, "SYNO.Core.Share": self.share,
                           "SYNO.Core.FileServ.NFS.SharePrivilege": self.rules}.get(api)
                if handler is None:
                    raise Refused(102)
                return {"success": True, "data": handler(method, params)}
            except Refused as refused:
                return {"success": False, "error": {"code": refused.code}}

    def auth(self, method, params):
        nas = self.nas
        if method == "logout":
            self.sessions.pop(params.get("_sid"), None)
            return {}
        if method != "login":
            raise Refused(103)
        if nas["failures"] >= nas["block_after"]:
            raise Refused(407)
        if params.get("account") != nas["account"] or params.get("passwd") != nas["password"]:
            nas["failures"] += 1
            raise Refused(400)
        if nas["two_step"] and not params.get("otp_code"):
            raise Refused(403)
        sid, token = secrets.token_urlsafe(16), secrets.token_urlsafe(8)
        self.sessions[sid] = token
        return {"sid": sid, "synotoken": token, "is_portal_port": False}

    def nfs(self, method, params):
        if method == "get":
            return dict(self.nas["nfs"])
        if method == "set":
            if any(field not in params for field in NFS_FIELDS):
                raise Refused(2001)
            self.nas["nfs"] = {field: value(params[field]) for field in NFS_FIELDS}
            return {}
        raise Refused(103)

    def share(self, method, params):
        shares = self.nas["shares"]
        if method == "list":
            listed = [{"name": name, "vol_path": share["vol_path"], "desc": share["desc"]} for name, share in sorted(shares.items())]
            return {"shares": listed, "total": len(listed)}
        if method == "create":
            name, info = value(params.get("name", "")), value(params.get("shareinfo", "{}"))
            if not isinstance(info, dict) or not name:
                raise Refused(120)
            if name in shares:
                raise Refused(3301)
            if info.get("vol_path") not in self.nas["volumes"]:
                raise Refused(3304)
            shares[name] = {"vol_path": info["vol_path"], "desc": info.get("desc", "")}
            return {"name": name}
        raise Refused(103)

    def rules(self, method, params):
        name = value(params.get("share_name", ""))
        if name not in self.nas["shares"]:
            raise Refused(2370)
        if method == "load":
            return {"rule": [dict(rule) for rule in self.nas["rules"].get(name, [])]}
        if method == "save":
            rules = value(params.get("rule", "[]"))
            if not self.nas["nfs"]["enable_nfs"] or not isinstance(rules, list) or not all(map(valid_rule, rules)):
                raise Refused(2301)
            self.nas["rules"][name] = rules
            return {}
        raise Refused(103)


def valid_rule(rule):
    flavor = rule.get("security_flavor") if isinstance(rule, dict) else None
    return (isinstance(flavor, dict) and rule.get("privilege") in ("rw", "ro") and rule.get("root_squash") in SQUASH
            and bool(rule.get("client")) and all(isinstance(flavor.get(name, False), bool) for name in FLAVORS))


def handler_for(double):
    class Handler(BaseHTTPRequestHandler):
        server_version = "nginx"

        def log_message(self, *args):
            pass

        def _serve(self, body):
            if urlparse(self.path).path != "/webapi/entry.cgi":
                self.send_error(404)
                return
            params = {key: values[-1] for key, values in parse_qs(urlparse(self.path).query, keep_blank_values=True).items()}
            params.update({key: values[-1] for key, values in parse_qs(body, keep_blank_values=True).items()})
            token = self.headers.get("X-SYNO-TOKEN") or params.get("SynoToken")
            payload = json.dumps(double.answer(params, token)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self._serve("")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self._serve(self.rfile.read(length).decode())

    return Handler


@contextlib.contextmanager
def serving(nas):
    """``with serving(nas) as (url, double):`` - the double on a free port of 127.0.0.1."""
    double = DsmDouble(nas)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(double))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1], double
    finally:
        server.shutdown()
        server.server_close()
