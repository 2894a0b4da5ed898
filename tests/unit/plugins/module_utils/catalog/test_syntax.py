"""Every catalog string that lands in a name, key, label, path or script is refused when it could change that structure."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import CatalogError, validate_catalog

BASE = {
    "name": "shop",
    "engine": "postgresql",
    "storage": {"size": "1Gi", "class": "longhorn"},
    "databases": ["shop", {"name": "reports", "owner": "shop"}],
    "roles": [{"name": "reporter", "password_key": "reporter-password"}],
    "source": {"host": "vm1", "container": "shop-db", "database": "shop", "user": "postgres", "address": "192.0.2.1:5432"},
    "migration": {"backup_dir": "/var/backups/stateshift"},
    "backup": {"schedule": "0 3 * * *", "storage_class": "longhorn"},
    "clients": [{"kind": "Deployment", "name": "shop", "namespace": "shop"}],
    "network": {"allow_from": [{"namespace": "web", "namespace_labels": {"team": "web"}, "pod_labels": {"app": "shop"}}]},
    "settings": {"max_connections": 50},
}

# What an attacker (or a typo) could put into a value to change the structure it lands in.
HOSTILE = ["a\nb", "a'b", 'a"b', "{{ lookup('pipe', 'id') }}", "{% if 1 %}x{% endif %}", "---", "...", "a;b", "$(id)", "a b", ""]


def _set(workload, path, value):
    """Set ``path`` (dots, [n] for list elements) in ``workload``."""
    target = workload
    parts = path.split(".")
    for part in parts[:-1]:
        name, _bracket, index = part.partition("[")
        target = target.setdefault(name, {})
        if index:
            target = target[int(index.rstrip("]"))]
    target[parts[-1]] = value


STRING_FIELDS = [
    "name", "namespace", "image", "version", "auth.user", "auth.secret", "auth.password_key",
    "databases[1].name", "databases[1].owner", "roles[0].name", "roles[0].password_key",
    "storage.class", "backup.storage_class", "backup.schedule",
    "source.host", "source.container", "source.user", "source.database", "source.address", "migration.backup_dir",
    "clients[0].name", "clients[0].namespace", "network.allow_from[0].namespace",
]


def _errors(workload):
    with pytest.raises(CatalogError) as caught:
        validate_catalog([workload])
    return caught.value.errors


def test_the_base_workload_is_valid():
    validate_catalog([BASE])


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("path", STRING_FIELDS)
def test_a_hostile_string_is_refused_with_the_field_and_the_fix(path, value):
    workload = copy.deepcopy(BASE)
    _set(workload, path, value)
    errors = _errors(workload)
    assert any(": %s = %r: " % (path, value) in e and e.rsplit("; ", 1)[1] for e in errors), errors


@pytest.mark.parametrize("value", [v for v in HOSTILE if v])
@pytest.mark.parametrize("where", ["namespace_labels", "pod_labels"])
@pytest.mark.parametrize("part", ["key", "value"])
def test_a_hostile_label_key_or_value_is_refused(where, part, value):
    workload = copy.deepcopy(BASE)
    labels = {value: "x"} if part == "key" else {"app": value}
    workload["network"]["allow_from"][0][where] = labels
    errors = _errors(workload)
    assert any("network.allow_from[0].%s" % where in e and "label" in e and "; write labels" in e for e in errors), errors


def test_label_values_that_are_not_strings_are_refused():
    workload = copy.deepcopy(BASE)
    workload["network"]["allow_from"][0]["pod_labels"] = {"enabled": True}
    assert "quote it" in "\n".join(_errors(workload))


@pytest.mark.parametrize("name", ["Max_Connections", "work mem", "a;b", "x\ny", "{{ x }}", "include", "include_dir",
                                  "include_if_exists", 5])
def test_bad_setting_names_are_refused(name):
    workload = copy.deepcopy(BASE)
    workload["settings"] = {name: "1"}
    errors = _errors(workload)
    assert any(e.startswith("workload 'shop' (stateshift_workloads[0]): settings = ") and "; write server settings" in e for e in errors)


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b", {"nested": 1}, [1], None])
def test_bad_setting_values_are_refused(value):
    workload = copy.deepcopy(BASE)
    workload["settings"] = {"search_path": value}
    assert any("settings = " in e for e in _errors(workload))


@pytest.mark.parametrize("value", ["it's", '"x"', "{{ x }}", "{% x %}", "---", "...", "a;b", "$(id)", "C:\\new", 8, 1.5, True])
def test_setting_values_without_newlines_are_accepted_as_data(value):
    workload = copy.deepcopy(BASE)
    workload["settings"] = {"application_name": value}
    assert validate_catalog([workload])[0]["settings"] == {"application_name": value}


@pytest.mark.parametrize("schedule", ["@daily; rm -rf /", "@reboot", "0 3 * * * sleep", "0 3 * *", "0\n3 * * *"])
def test_schedules_that_are_not_cron_are_refused(schedule):
    workload = copy.deepcopy(BASE)
    workload["backup"]["schedule"] = schedule
    assert any("backup.schedule" in e for e in _errors(workload))


@pytest.mark.parametrize("image", ["postgres:18-alpine", "registry.example.com:5000/team/postgres:18",
                                   "postgres@sha256:" + "a" * 64, "localhost/pg:15.4-bookworm"])
def test_image_references_are_accepted(image):
    workload = copy.deepcopy(BASE)
    workload["image"] = image
    validate_catalog([workload])


@pytest.mark.parametrize("path", ["/var/backups/../../etc", "relative/dir", "/with space"])
def test_backup_dirs_that_are_not_plain_absolute_paths_are_refused(path):
    workload = copy.deepcopy(BASE)
    workload["migration"]["backup_dir"] = path
    assert any("migration.backup_dir" in e for e in _errors(workload))


def test_a_port_out_of_range_is_refused():
    workload = copy.deepcopy(BASE)
    workload["source"]["address"] = "db:70000"
    assert any("source.address" in e and "port" in e for e in _errors(workload))


@pytest.mark.parametrize("field", ["password", "dsn"])
def test_a_secret_field_never_shows_its_value_in_a_problem(field):
    workload = copy.deepcopy(BASE)
    workload["source"] = {"dsn": "host=db", "database": "shop"}
    workload["source"][field] = "s3cret\nvalue"
    errors = _errors(workload)
    assert any("source.%s = <hidden>" % field in e for e in errors), errors
    assert "s3cret" not in "\n".join(errors)
