from __future__ import annotations

import base64
import hashlib
from urllib.parse import unquote, urlsplit

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.stateshift.k3s.plugins.filter.secrets import FilterModule

FILTERS = FilterModule().filters()


def test_conn_url_percent_encodes_base64_passwords():
    password = "a+b/c=d@e:f?g#h%"
    url = FILTERS["pg_conn_url"](password, "invoicetron", "postgresql.invoicetron.svc", database="invoicetron",
                                 params={"sslmode": "disable", "schema": "public"})
    assert url.startswith("postgresql://invoicetron:")
    parts = urlsplit(url)
    assert unquote(parts.password) == password
    assert parts.hostname == "postgresql.invoicetron.svc" and parts.port == 5432
    assert parts.path == "/invoicetron"
    assert parts.query == "schema=public&sslmode=disable"


def test_conn_url_ipv6_and_no_port():
    assert FILTERS["pg_conn_url"]("pw", "u", "::1", port=None) == "postgresql://u:pw@[::1]"


def test_rabbitmq_hash_matches_the_documented_format():
    salt = base64.b64encode(b"\x90\x8d\xc6\x0a").decode()
    hashed = FILTERS["rabbitmq_password_hash"]("test12", salt=salt)
    raw = base64.b64decode(hashed)
    assert raw[:4] == b"\x90\x8d\xc6\x0a"
    assert raw[4:] == hashlib.sha256(b"\x90\x8d\xc6\x0a" + b"test12").digest()
    # the example from RabbitMQ's "Credentials and Passwords" guide (salt 908DC60A, password test12)
    assert hashed == "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"


def test_rabbitmq_random_salt_and_sha512():
    assert FILTERS["rabbitmq_password_hash"]("pw") != FILTERS["rabbitmq_password_hash"]("pw")
    assert len(base64.b64decode(FILTERS["rabbitmq_password_hash"]("pw", algorithm="sha512"))) == 68


def test_scram_has_postgres_format():
    verifier = FILTERS["pg_scram_sha256"]("secret", salt=base64.b64encode(b"0123456789abcdef").decode())
    assert verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")


def test_filter_errors_never_echo_the_password():
    with pytest.raises(AnsibleFilterError) as error:
        FILTERS["rabbitmq_password_hash"]("s3cr3t-value", algorithm="md4")
    assert "s3cr3t-value" not in str(error.value)
