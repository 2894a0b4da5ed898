# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values derived from a secret: connection URLs, PostgreSQL SCRAM verifiers, RabbitMQ hashes.

- ``pg_scram_sha256`` uses passlib (or its maintained fork libpass) for SASLprep and
  ``SaltedPassword = Hi(Normalize(password), salt, i)``; only the last two HMAC/SHA-256 steps of
  RFC 5802 and PostgreSQL's text format are written here, because no library emits that format.
- ``rabbitmq_password_hash`` is written here: no maintained library implements RabbitMQ's
  ``rabbit_password_hashing_sha256`` format (base64 of a 4-byte salt and SHA-256(salt + password)).
- ``pg_conn_url`` uses the standard library's percent-encoding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from urllib.parse import quote

try:
    from passlib.handlers.scram import scram as _passlib_scram
except ImportError:  # pragma: no cover - reported on use
    _passlib_scram = None

SCRAM_DEFAULT_ITERATIONS = 4096  # PostgreSQL's scram_iterations default
SCRAM_SALT_BYTES = 16  # PostgreSQL's SCRAM_DEFAULT_SALT_LEN
RABBITMQ_ALGORITHMS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}


def _text(value, what):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if not isinstance(value, str):
        raise TypeError("%s must be a string, got %s" % (what, type(value).__name__))
    return value


def pg_conn_url(password, user, host, port=5432, database=None, scheme="postgresql", params=None):
    """``postgresql://user:password@host:port/database?params`` with every part percent-encoded."""
    password = _text(password, "password")
    if "\x00" in password:
        raise ValueError("the password holds a NUL byte, which libpq refuses in a connection URL")
    user = _text(user, "user")
    host = _text(host, "host")
    if not user or not host:
        raise ValueError("pg_conn_url needs a user and a host")
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host  # IPv6 literal
    url = "%s://%s:%s@%s" % (scheme, quote(user, safe=""), quote(password, safe=""), host)
    if port not in (None, ""):
        url += ":%d" % int(port)
    if database:
        url += "/" + quote(_text(database, "database"), safe="")
    if params:
        url += "?" + "&".join("%s=%s" % (quote(str(key), safe=""), quote(str(params[key]), safe=""))
                              for key in sorted(params))
    return url


def _salted_password(password, salt, iterations):
    if _passlib_scram is None:
        raise RuntimeError("pg_scram_sha256 needs passlib (or its fork libpass) on the controller: pip install libpass")
    try:
        return _passlib_scram.derive_digest(password, salt, iterations, "sha-256")
    except ValueError:
        # PostgreSQL (pg_saslprep) uses the password as-is when SASLprep refuses it
        # (prohibited or bidirectional characters); do the same.
        return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def pg_scram_sha256(password, salt=None, iterations=SCRAM_DEFAULT_ITERATIONS):
    """The verifier PostgreSQL stores in ``pg_authid.rolpassword`` for ``password``.

    ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64 parts). Give ``salt``
    (base64) to get a reproducible verifier; otherwise 16 random bytes are used, like PostgreSQL.
    ``ALTER ROLE name PASSWORD '<verifier>'`` sets it without the plaintext reaching the server.
    """
    password = _text(password, "password")
    iterations = int(iterations)
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt_bytes = base64.b64decode(salt, validate=True) if salt else os.urandom(SCRAM_SALT_BYTES)
    salted = _salted_password(password, salt_bytes, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data):
        return base64.b64encode(data).decode("ascii")

    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt_bytes), b64(stored_key), b64(server_key))


def pg_scram_sha256_matches(password, verifier):
    """True when ``verifier`` (PostgreSQL's SCRAM text format) was made from ``password``."""
    try:
        method, rest = verifier.split("$", 1)
        params, _keys = rest.split("$", 1)
        iterations, salt = params.split(":", 1)
    except (AttributeError, ValueError):
        return False
    if method != "SCRAM-SHA-256":
        return False
    return hmac.compare_digest(pg_scram_sha256(password, salt=salt, iterations=int(iterations)), verifier)


def rabbitmq_password_hash(password, salt=None, algorithm="sha256"):
    """``password_hash`` for a RabbitMQ definitions file (``rabbit_password_hashing_<algorithm>``).

    base64(salt + H(salt + utf8(password))) with a 4-byte salt; ``salt`` (base64 of 4 bytes) makes
    it reproducible.
    """
    password = _text(password, "password")
    if algorithm not in RABBITMQ_ALGORITHMS:
        raise ValueError("algorithm %r is not supported: use %s" % (algorithm, " or ".join(sorted(RABBITMQ_ALGORITHMS))))
    salt_bytes = base64.b64decode(salt, validate=True) if salt else os.urandom(4)
    if len(salt_bytes) != 4:
        raise ValueError("a RabbitMQ salt is 4 bytes (base64 of 4 bytes, 8 characters)")
    digest = RABBITMQ_ALGORITHMS[algorithm](salt_bytes + password.encode("utf-8")).digest()
    return base64.b64encode(salt_bytes + digest).decode("ascii")


def rabbitmq_password_hash_matches(password, password_hash, algorithm="sha256"):
    """True when ``password_hash`` (rabbitmq_password_hash's format) was made from ``password``."""
    try:
        salt = base64.b64encode(base64.b64decode(password_hash, validate=True)[:4]).decode("ascii")
        return hmac.compare_digest(rabbitmq_password_hash(password, salt=salt, algorithm=algorithm), password_hash)
    except (TypeError, ValueError):
        return False
