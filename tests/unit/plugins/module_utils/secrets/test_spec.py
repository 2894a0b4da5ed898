from __future__ import annotations

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import spec as secret_spec

REF = "op://Kubernetes/Invoicetron/postgres-password"


def workload(name="invoicetron", namespace="invoicetron", **keys):
    return {"name": name, "namespace": namespace,
            "secrets": {"invoicetron-secrets": keys or {"postgres-password": {"op": REF, "generate": "hex32"}}}}


@pytest.mark.parametrize("shorthand, expected", [
    ("hex32", {"kind": "hex", "length": 32}),
    ("base64_32", {"kind": "base64", "length": 32}),
    ("base64url-24", {"kind": "base64url", "length": 24}),
    ("passphrase6", {"kind": "passphrase", "length": 6}),
    (True, {"kind": "hex", "length": 32}),
    ({"kind": "alnum", "length": 40}, {"kind": "alnum", "length": 40}),
    ({"kind": "base64"}, {"kind": "base64", "length": 32}),
])
def test_generator_shorthands(shorthand, expected):
    assert secret_spec.parse_generate(shorthand) == expected


@pytest.mark.parametrize("bad, message", [
    ("hex", "is not a generator"),
    ("sha32", "is not a generator"),
    ("hex4", "out of range"),
    ({"kind": "rot13"}, "kind 'rot13' is unknown"),
    ({"kind": "hex", "length": "x"}, "not an integer"),
    ({"kind": "hex", "size": 3}, "unknown generator option"),
])
def test_bad_generators_say_the_fix(bad, message):
    with pytest.raises(ValueError, match=message):
        secret_spec.parse_generate(bad)


@pytest.mark.parametrize("reference, parts", [
    (REF, ("Kubernetes", "Invoicetron", None, "postgres-password")),
    ("op://dev/Stripe Keys/Admin/api key", ("dev", "Stripe Keys", "Admin", "api key")),
])
def test_references_parse(reference, parts):
    parsed = secret_spec.parse_reference(reference)
    assert (parsed["vault"], parsed["item"], parsed["section"], parsed["field"]) == parts


@pytest.mark.parametrize("reference", ["Kubernetes/Invoicetron/x", "op://a/b", "op://a/b/c/d/e", "op://a/b/c?attribute=otp",
                                       "op://a/b$/c"])
def test_bad_references_are_refused(reference):
    with pytest.raises(ValueError):
        secret_spec.parse_reference(reference)


def test_valid_catalog_has_no_errors():
    assert secret_spec.validate_secrets("invoicetron", workload()["secrets"]) == []
    assert secret_spec.validate_secrets("x", None) == []


def test_errors_name_workload_secret_key_value_and_fix():
    errors = secret_spec.validate_secrets("invoicetron", {
        "invoicetron-secrets": {"postgres-password": {"op": REF, "generate": "hex3x"},
                                "Bad Key!": {"op": REF},
                                "no-op": {"generate": "hex32"},
                                "rot": {"op": REF, "rotate": True}},
        "Not_A_Name": {"k": {"op": REF}},
    })
    text = "\n".join(errors)
    assert "workload 'invoicetron': secrets.invoicetron-secrets.postgres-password.generate = 'hex3x': is not a generator; use" in text
    assert "hex32" in text  # the fix
    assert "workload 'invoicetron': secrets.invoicetron-secrets.Bad Key!: is not a valid Secret key; use letters" in text
    assert "secrets.invoicetron-secrets.no-op.op: is missing; every key needs its 1Password reference" in text
    assert "secrets.invoicetron-secrets.rot.rotate = True: rotation needs a generator for the new value; add generate" in text
    assert "secrets.Not_A_Name: is not a valid Secret name" in text
    assert len(errors) == 5


def test_options_are_validated():
    errors = secret_spec.validate_secrets("w", {"s": {"$options": {"immutable": "yes"}, "k": {"op": REF}}})
    assert errors == ["workload 'w': secrets.s.$options.immutable = 'yes': is not a boolean; use true or false"]


def test_errors_carry_the_catalog_index_when_given():
    errors = secret_spec.validate_secrets("w", {"s": {"k": "op://a/b"}}, index=3)
    assert errors == ["workload 'w' (stateshift_workloads[3]): secrets.s.k.op = 'op://a/b': is not a 1Password secret reference; "
                      "use op://<vault>/<item>[/<section>]/<field> (names of letters, digits, spaces, '-', '_' and '.')"]


def test_two_workloads_claiming_a_key_differently_is_an_error():
    first = workload("a", "shared", **{"db-password": {"op": REF, "generate": "hex32"}})
    second = workload("b", "shared", **{"db-password": {"op": "op://Kubernetes/Other/pw"}})
    _planned, errors = secret_spec.plan([first, second])
    assert len(errors) == 1
    assert errors[0].startswith("workload 'b' (stateshift_workloads[1]): secrets.invoicetron-secrets.db-password = "
                                "'op://Kubernetes/Other/pw': Secret shared/invoicetron-secrets key db-password is declared "
                                "differently by workload 'a' (%s (generate hex32)); declare it once" % REF)
    assert secret_spec.secret_key_conflicts([first, second]) == errors


def test_two_workloads_may_share_a_secret_consistently():
    first = workload("a", "shared", **{"db-password": {"op": REF, "generate": "hex32"}})
    second = workload("b", "shared", **{"db-password": {"op": REF, "generate": "hex32"},
                                        "other": {"op": "op://Kubernetes/Other/pw"}})
    planned, errors = secret_spec.plan([first, second])
    assert errors == []
    assert len(planned) == 1
    assert planned[0]["workloads"] == ["a", "b"]
    assert set(planned[0]["keys"]) == {"db-password", "other"}


def test_one_reference_with_two_generators_is_an_error():
    first = workload("a", "ns-a", **{"pw": {"op": REF, "generate": "hex32"}})
    second = workload("b", "ns-b", **{"pw": {"op": REF, "generate": "base64_32"}})
    errors = secret_spec.plan([first, second])[1]
    assert len(errors) == 1 and "generated differently" in errors[0] and REF in errors[0]


def test_a_workload_without_a_namespace_cannot_plan_its_secrets():
    errors = secret_spec.plan([workload("a", None)])[1]
    assert errors == ["workload 'a' (stateshift_workloads[0]): namespace: is missing; set it: the Secrets invoicetron-secrets need one"]


def test_bad_keys_raise_spec_errors_with_field_and_fix():
    with pytest.raises(secret_spec.SpecError) as caught:
        secret_spec.normalize_key({"op": REF, "rotate": "yes"})
    assert (caught.value.field, caught.value.value, caught.value.fix) == ("rotate", "yes", "use true or false")
    assert str(caught.value) == "rotate = 'yes': is not a boolean; use true or false"


def test_same_secret_name_in_other_namespaces_is_independent():
    planned, errors = secret_spec.plan([workload("a", "ns-a"), workload("b", "ns-b")])
    assert errors == [] and len(planned) == 2


@pytest.mark.parametrize("role", ["bad\nrole", "it's", 'say"hi', "a;b", "x" * 64, "", "1starts_with_digit", "sp ace", "é"])
def test_a_role_must_be_an_identifier(role):
    with pytest.raises(secret_spec.SpecError) as caught:
        secret_spec.normalize_key({"op": REF, "role": role})
    assert caught.value.field == "role" and "is not a PostgreSQL role name" in str(caught.value)


@pytest.mark.parametrize("role", ["invoicetron", "_app", "app-user_2", "a" * 63])
def test_identifier_roles_are_accepted(role):
    assert secret_spec.normalize_key({"op": REF, "role": role})["role"] == role


@pytest.mark.parametrize("key", ["...", "-", "_.-", "a b", "a\nb", "x" * 254])
def test_a_secret_key_needs_a_letter_or_digit_and_the_catalog_alphabet(key):
    errors = secret_spec.validate_secrets("invoicetron", {"invoicetron-secrets": {key: {"op": REF}}})
    assert len(errors) == 1 and "is not a valid Secret key" in errors[0]


@pytest.mark.parametrize("key", [".env", "DB_PASSWORD", "a.b-c_d", "x" * 253])
def test_catalog_secret_keys_are_accepted(key):
    assert secret_spec.validate_secrets("invoicetron", {"invoicetron-secrets": {key: {"op": REF}}}) == []
