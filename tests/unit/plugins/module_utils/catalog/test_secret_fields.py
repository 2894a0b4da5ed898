"""The validated catalog fact holds no secret value; the accessor gives them to the code that needs them."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import dsn
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.secret_fields import redact, secret_fields, secret_values_of
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import CatalogError, validate_catalog

PASSWORD = "S3cr3t-pa55"
RAW = [
    {"name": "shop", "engine": "postgresql", "storage": {"size": "1Gi"},
     "source": {"host": "vm1", "container": "shop-db", "database": "shop", "password": PASSWORD}},
    {"name": "wiki", "engine": "postgresql", "storage": {"size": "1Gi"},
     "source": {"dsn": "host=db.example.com port=5432 user=wiki password='%s' dbname=wiki" % PASSWORD}},
    {"name": "blog", "engine": "postgresql", "storage": {"size": "1Gi"},
     "source": {"dsn": "postgresql://blog:%s@db.example.com:5432/blog?sslmode=require&password=%s" % (PASSWORD, PASSWORD)}},
]


def test_the_schema_declares_the_secret_fields():
    assert secret_fields() == ("source.password", "source.dsn")


def test_the_fact_holds_no_secret_value():
    fact = [redact(workload) for workload in validate_catalog(RAW)]
    assert PASSWORD not in json.dumps(fact)
    assert "password" not in fact[0]["source"]
    assert fact[1]["source"]["dsn"] == "host=db.example.com port=5432 user=wiki dbname=wiki"
    assert fact[2]["source"]["dsn"] == "postgresql://blog@db.example.com:5432/blog?sslmode=require"


def test_the_task_result_and_the_fact_show_no_secret_even_at_vvv(tmp_path):
    (tmp_path / "play.yml").write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False, "vars": {"stateshift_workloads": RAW},
        "tasks": [{"stateshift.k3s.validate_catalog": None}, {"ansible.builtin.debug": {"var": "ansible_facts"}}],
    }]))
    completed = subprocess.run(["ansible-playbook", "-vvv", "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml")],
                               capture_output=True, text=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"), check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "stateshift_catalog" in completed.stdout and "db.example.com" in completed.stdout
    assert PASSWORD not in completed.stdout + completed.stderr


def test_the_accessor_returns_the_secret_values_from_the_raw_catalog():
    assert secret_values_of(RAW, "shop") == {"source.password": PASSWORD}
    assert secret_values_of(RAW, "wiki") == {"source.dsn": RAW[1]["source"]["dsn"]}
    assert secret_values_of(RAW, "blog")["source.dsn"].count(PASSWORD) == 2
    with pytest.raises(KeyError):
        secret_values_of(RAW, "nope")


@pytest.mark.parametrize(("text", "expected"), [
    ("password=x host=db", "host=db"),
    ("host = db  password = 'a b\\'c'  user=u", "host=db user=u"),
    ("host=db password=a\\ b user=u", "host=db user=u"),
    ("postgres://u:p%40ss@h/d", "postgres://u@h/d"),
    ("postgresql://h/d?password=x&application_name=a", "postgresql://h/d?application_name=a"),
])
def test_dsn_passwords_are_taken_out(text, expected):
    assert dsn.without_password(text) == expected


@pytest.mark.parametrize("text", ["host=db password='unterminated", "just words", "postgresql://h:port/d", "host=db\npassword=x"])
def test_a_dsn_libpq_would_not_read_is_refused_without_showing_it(text):
    with pytest.raises(CatalogError) as caught:
        validate_catalog([{"name": "x", "engine": "postgresql", "storage": {"size": "1Gi"}, "source": {"dsn": text}}])
    assert "source.dsn = <hidden>" in str(caught.value) and text not in str(caught.value)
