# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Synology DSM Web API session: ``SYNO.API.Auth`` login (a sid and a SynoToken), calls to ``/webapi/entry.cgi``
with every parameter form-encoded (objects and lists as JSON text), DSM's error codes turned into messages with the
fix, logout at the end. The password is sent in the login's POST body only, never in a URL or a message."""

from __future__ import annotations

import contextlib
import json
from urllib.parse import urlencode

AUTH_VERSION = 6
SESSION = "stateshift"
SESSION_ENDED = (106, 107, 119)

COMMON_ERRORS = {
    100: "unknown error", 101: "no API, method or version given", 102: "the API does not exist on this DSM",
    103: "the method does not exist on this DSM", 104: "this DSM does not support the API version asked for",
    105: "the account may not do this: use an account of the administrators group",
    106: "the session timed out", 107: "the session was ended by another login of the same account",
    114: "a parameter is missing", 119: "the session is not known", 120: "a parameter is not valid",
    150: "the request came from another address than the login",
}
LOGIN_ERRORS = {
    400: "wrong account or password: check the DSM credentials (their 1Password item) and that the account can log in to DSM",
    401: "the account is disabled or is a guest account: enable it, or use another administrator account",
    402: "the account may not log in (permission denied): use an account of the administrators group",
    403: "the account has 2-step verification: use a dedicated administrator account without it for automation",
    404: "the 2-step verification code was refused",
    406: "2-step verification is enforced for this account: use a dedicated administrator account without it",
    407: "this address is blocked after too many failed logins: unblock it in Control Panel > Security > Protection "
         "(Allow/Block List), then check the password",
    408: "the password has expired and cannot be changed here: change it in DSM",
    409: "the password has expired: change it in DSM",
    410: "the password must be changed at the next login: log in to DSM once and change it",
    411: "the account is locked: unlock it in DSM (Control Panel > User)",
}
API_ERRORS = {
    "SYNO.Core.Share": {3300: "the shared folder operation failed", 3301: "a shared folder of that name exists already",
                        3304: "the volume does not exist: check volume (e.g. /volume1)", 3305: "the shared folder name is not valid",
                        3309: "the NAS has as many shared folders as it may", 3312: "a folder of that name exists on the volume",
                        3313: "the volume does not exist: check volume (e.g. /volume1)", 3314: "the volume is read-only",
                        3319: "the shared folder name is reserved by DSM", 3320: "the volume is full"},
    "SYNO.Core.FileServ.NFS": {2001: "DSM refused the NFS settings (it takes the whole settings object)"},
    "SYNO.Core.FileServ.NFS.SharePrivilege": {
        2301: "DSM refused the NFS rules: a value is not valid, or the NFS service is off",
        2370: "the shared folder does not exist", 2371: "DSM could not apply the NFS permissions",
        2372: "DSM could not apply the NFS permissions"},
}


class DsmError(Exception):
    """A DSM call failed; the message names the call, DSM's code and the fix."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


def urls_transport(url, body, headers, timeout, validate_certs):
    """POST through ansible's ``open_url``; returns the response's bytes."""
    from urllib.error import HTTPError, URLError  # noqa: PLC0415

    from ansible.module_utils.urls import open_url  # noqa: PLC0415 - keep module_utils import light

    try:
        return open_url(url, method="POST", data=body, headers=headers, timeout=timeout, validate_certs=validate_certs).read()
    except HTTPError as exc:
        raise DsmError("DSM at %s answered HTTP %d: check the address (https://<nas>:5001)"
                       % (url.split("/webapi/")[0], exc.code)) from None
    except (URLError, OSError) as exc:
        raise DsmError("cannot reach DSM at %s (%s): check the address and port (5001 for HTTPS, 5000 for HTTP) and that this "
                       "host may connect to it" % (url.split("/webapi/")[0], getattr(exc, "reason", exc))) from None


def encoded(value):
    """A parameter's form value: objects, lists and booleans as JSON, strings as they are."""
    if isinstance(value, (dict, list, bool)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class Session:
    """``with Session(url, account, password) as dsm: dsm.call(api, version, method, **params)``."""

    def __init__(self, url, account, password, validate_certs=True, timeout=30, transport=urls_transport):
        self.url, self.account, self.password = url.rstrip("/"), account, password
        self.validate_certs, self.timeout, self.transport = validate_certs, timeout, transport
        self.sid = self.token = None

    def _post(self, params, what):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.token:
            headers["X-SYNO-TOKEN"] = self.token
        raw = self.transport(self.url + "/webapi/entry.cgi", urlencode(params).encode(), headers, self.timeout, self.validate_certs)
        try:
            answer = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise DsmError("%s: DSM at %s did not answer with JSON: is it a Synology NAS's DSM address?" % (what, self.url)) from None
        if not isinstance(answer, dict) or "success" not in answer:
            raise DsmError("%s: DSM at %s gave an answer without 'success'" % (what, self.url))
        return answer

    def __enter__(self):
        answer = self._post({"api": "SYNO.API.Auth", "version": AUTH_VERSION, "method": "login", "account": self.account,
                             "passwd": self.password, "session": SESSION, "format": "sid", "enable_syno_token": "yes"},
                            "login as %s" % self.account)
        if not answer["success"]:
            code = (answer.get("error") or {}).get("code")
            reason = LOGIN_ERRORS.get(code) or COMMON_ERRORS.get(code) or "DSM error %s" % code
            raise DsmError("DSM login as %s at %s failed (code %s): %s" % (self.account, self.url, code, reason), code)
        data = answer.get("data") or {}
        self.sid, self.token = data.get("sid"), data.get("synotoken")
        return self

    def __exit__(self, *exc):
        if self.sid:
            with contextlib.suppress(DsmError):  # the session ends by itself; the work's own outcome is what counts
                self._post({"api": "SYNO.API.Auth", "version": AUTH_VERSION, "method": "logout", "session": SESSION, "_sid": self.sid},
                           "logout")
            self.sid = self.token = None
        return False

    def call(self, api, version, method, **params):
        """DSM's ``data`` of a successful call; DsmError naming the call, the code and the fix otherwise."""
        what = "%s %s" % (api, method)
        form = {"api": api, "version": version, "method": method, "_sid": self.sid}
        form.update({name: encoded(value) for name, value in params.items()})
        answer = self._post(form, what)
        if answer["success"]:
            return answer.get("data") or {}
        code = (answer.get("error") or {}).get("code")
        reason = API_ERRORS.get(api, {}).get(code) or COMMON_ERRORS.get(code) or "DSM error %s" % code
        if code in SESSION_ENDED:
            reason += "; re-run"
        raise DsmError("%s on DSM at %s failed (code %s): %s" % (what, self.url, code, reason), code)
