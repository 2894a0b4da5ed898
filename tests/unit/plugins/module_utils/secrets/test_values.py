from __future__ import annotations

import base64
import re
from urllib.parse import quote

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import values as secret_values


def test_hex_is_the_default_and_counts_bytes_like_openssl_rand():
    value = secret_values.generate(True)
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert len(secret_values.generate("hex16")) == 32


def test_hex_needs_no_url_encoding():
    value = secret_values.generate("hex32")
    assert quote(value, safe="") == value


def test_base64_matches_openssl_rand_base64():
    value = secret_values.generate({"kind": "base64", "length": 32})
    assert len(value) == 44 and len(base64.b64decode(value)) == 32


def test_base64url_and_alnum():
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret_values.generate("base64url32"))
    assert re.fullmatch(r"[A-Za-z0-9]{40}", secret_values.generate("alnum40"))


def test_passphrase_uses_words():
    words = secret_values.generate("passphrase6").split("-")
    assert len(words) == 6 and all(word.isalpha() for word in words)


def test_values_differ_every_time():
    assert len({secret_values.generate("hex16") for _index in range(50)}) == 50


def test_bad_spec_is_refused():
    with pytest.raises(ValueError):
        secret_values.generate("hex2")
