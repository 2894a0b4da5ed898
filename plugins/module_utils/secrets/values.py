# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate secret values from the operating system's CSPRNG.

``length`` follows the runbooks' ``openssl rand -hex N`` / ``openssl rand -base64 N``: it counts
random *bytes* for ``hex``, ``base64`` and ``base64url`` (so ``hex32`` is 64 characters, 256 bits),
*characters* for ``alnum`` and *words* for ``passphrase``.

- ``hex`` (default): URL-safe, shell-safe, safe inside connection strings without encoding.
- ``base64``: standard alphabet with ``+ / =`` (what ``openssl rand -base64`` prints; needs
  percent-encoding inside a URL - use the ``pg_conn_url`` filter).
- ``base64url``: URL-safe alphabet, no padding.
- ``alnum``: letters and digits.
- ``passphrase``: words from the EFF long word list, joined by ``-``, via passlib's ``genphrase``
  (passlib or its maintained fork libpass).
"""

from __future__ import annotations

import base64
import secrets
import string

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import spec as secret_spec

try:
    from passlib import pwd as _passlib_pwd
except ImportError:  # pragma: no cover - reported when a passphrase is requested
    _passlib_pwd = None

_ALNUM = string.ascii_letters + string.digits


def generate(spec):
    """Return a new value for a generator spec (dict or shorthand, see secret_spec.parse_generate)."""
    spec = secret_spec.parse_generate(spec if spec is not None else True)
    kind, length = spec["kind"], spec["length"]
    if kind == "hex":
        return secrets.token_hex(length)
    if kind == "base64":
        return base64.b64encode(secrets.token_bytes(length)).decode("ascii")
    if kind == "base64url":
        return base64.urlsafe_b64encode(secrets.token_bytes(length)).decode("ascii").rstrip("=")
    if kind == "alnum":
        return "".join(secrets.choice(_ALNUM) for _index in range(length))
    if _passlib_pwd is None:
        raise RuntimeError("passphrase generation needs passlib (or its fork libpass) on the controller: "
                           "pip install libpass")
    return _passlib_pwd.genphrase(length=length, wordset="eff_long", sep="-")
