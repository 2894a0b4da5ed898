# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Secret's data read with kubectl, and a Secret written server-side with kubectl: values only in the exec streams."""

from __future__ import annotations

import base64
import json
import subprocess

FIELD_MANAGER = "stateshift.k3s"


class SecretReadError(Exception):
    """kubectl could not read the Secret (other than: it does not exist)."""


def _kubectl(argv, stdin=None):
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=60)  # pylint: disable=ansible-bad-function
    except FileNotFoundError:
        raise SecretReadError("%s is not installed (set kubectl_bin)" % argv[0]) from None


def read(kubectl, name):
    """{key: text} of Secret ``name`` in the Kubectl's namespace, or None when there is no such Secret."""
    done = _kubectl(kubectl("get", "secret", name, "-o", "json", "--ignore-not-found"))
    if done.returncode != 0:
        raise SecretReadError("reading Secret %s/%s failed: %s" % (kubectl.namespace, name, done.stderr.strip()))
    if not done.stdout.strip():
        return None
    data = json.loads(done.stdout).get("data") or {}
    return {key: base64.b64decode(value).decode("utf-8") for key, value in data.items()}


def apply(kubectl, secret):
    """Apply ``secret`` (an object with stringData) server-side."""
    done = _kubectl(kubectl("apply", "--server-side", "--force-conflicts", "--field-manager", FIELD_MANAGER, "-f", "-"),
                    stdin=json.dumps(secret))
    if done.returncode != 0:
        raise SecretReadError("writing Secret %s/%s failed: %s" % (kubectl.namespace, secret["metadata"]["name"], done.stderr.strip()))
