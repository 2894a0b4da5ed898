"""The example inventories under inventories/: each has a README and hosts.yml, its catalog and storage catalog
validate, and every source.host of its catalog is a host of its stateshift_sources group."""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
import pytest
import yaml

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import CatalogError, validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.storage.classes import StorageInputError
from ansible_collections.stateshift.k3s.plugins.module_utils.storage.spec import validate_storage

INVENTORIES = Path(__file__).resolve().parents[2] / "inventories"
EXAMPLES = sorted(path.name for path in INVENTORIES.iterdir() if path.is_dir())
# The host variables an inventory's catalog refers to that are written when it is used, not kept in the inventory:
# `tests/lab/lab up` writes lab-nfs's address (an address on the lab's Docker network) into the lab's second inventory.
WRITTEN_AT_RUN_TIME = {"lab": {"lab-nfs": {"ansible_host": "172.18.0.5"}}}


def rendered(value, hostvars):
    """The value with the Jinja expressions that read hostvars rendered, as Ansible does when a phase reads it (others, such
    as a lookup of a password, stay as they are written)."""
    if isinstance(value, dict):
        return {key: rendered(item, hostvars) for key, item in value.items()}
    if isinstance(value, list):
        return [rendered(item, hostvars) for item in value]
    if isinstance(value, str) and "hostvars" in value:
        return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(value).render(hostvars=hostvars)
    return value


def group_vars(inventory):
    """The variables of every YAML file under the inventory's group_vars, merged in file order (a later file wins)."""
    merged = {}
    files = [path for path in (inventory / "group_vars").rglob("*") if path.suffix in (".yml", ".yaml") and path.is_file()]
    for path in sorted(files):
        merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


def group_hosts(inventory, group_name):
    """The hosts of a group of the inventory's hosts.yml, with those of its child groups."""
    groups = yaml.safe_load((inventory / "hosts.yml").read_text()) or {}

    def hosts_of(name, group):
        group = group if group is not None else groups.get(name) or {}
        found = set(group.get("hosts") or {})
        for child, child_group in (group.get("children") or {}).items():
            found |= hosts_of(child, child_group)
        return found

    return hosts_of(group_name, None)


def source_hosts_missing(inventory):
    """{workload: source.host} of the workloads whose source.host is not a host of stateshift_sources."""
    sources = group_hosts(inventory, "stateshift_sources")
    return {"%s/%s" % (workload.get("namespace", workload["name"]), workload["name"]): workload["source"]["host"]
            for workload in group_vars(inventory)["stateshift_workloads"]
            if "host" in (workload.get("source") or {}) and workload["source"]["host"] not in sources}


def test_every_example_inventory_is_found():
    assert {"lab", "invoicing", "mongodb-nfs", "patroni", "reverse-split"} <= set(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_inventory_has_a_readme_and_hosts(name):
    assert (INVENTORIES / name / "README.md").is_file(), "inventories/%s has no README.md" % name
    assert (INVENTORIES / name / "hosts.yml").is_file(), "inventories/%s has no hosts.yml" % name


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_workload_catalog_is_valid(name):
    variables = group_vars(INVENTORIES / name)
    assert "stateshift_workloads" in variables, "inventories/%s/group_vars defines no stateshift_workloads" % name
    try:
        validate_catalog(variables["stateshift_workloads"])
    except CatalogError as exc:
        pytest.fail("inventories/%s: %s" % (name, exc))


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_storage_catalog_is_valid(name):
    variables = group_vars(INVENTORIES / name)
    if "stateshift_storage" not in variables:
        pytest.skip("inventories/%s has no stateshift_storage" % name)
    try:
        validate_storage(rendered(variables["stateshift_storage"], WRITTEN_AT_RUN_TIME.get(name, {})))
    except StorageInputError as exc:
        pytest.fail("inventories/%s: %s" % (name, exc))


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_source_host_is_in_stateshift_sources(name):
    missing = source_hosts_missing(INVENTORIES / name)
    assert not missing, "inventories/%s: source.host not a host of stateshift_sources in hosts.yml: %s" % (name, missing)


def test_a_broken_inventory_is_caught(tmp_path):
    broken = tmp_path / "invoicing"
    shutil.copytree(INVENTORIES / "invoicing", broken)
    catalog = broken / "group_vars" / "all" / "workloads.yml"
    workloads = yaml.safe_load(catalog.read_text())["stateshift_workloads"]
    workloads[0]["storage"]["size"] = "10GB"
    workloads[0]["source"]["host"] = "elsewhere"
    catalog.write_text(yaml.safe_dump({"stateshift_workloads": workloads}))
    with pytest.raises(CatalogError, match=r"storage\.size = '10GB'"):
        validate_catalog(group_vars(broken)["stateshift_workloads"])
    assert source_hosts_missing(broken) == {"invoicetron/invoicetron": "elsewhere"}
