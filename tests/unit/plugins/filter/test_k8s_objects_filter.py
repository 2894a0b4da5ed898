"""The postgresql_objects filter, alone and in a play: a literal '{{' in the catalog reaches the object verbatim."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.stateshift.k3s.plugins.filter.k8s_objects import FilterModule

FILTERS = FilterModule().filters()


def test_the_filter_refuses_what_is_not_a_validated_workload():
    with pytest.raises(AnsibleFilterError, match="validated catalog"):
        FILTERS["postgresql_objects"]({"name": "x"})
    with pytest.raises(AnsibleFilterError, match="is not one of"):
        FILTERS["pod_security_kept"]("open")


def test_a_literal_template_in_the_catalog_is_never_templated_again(tmp_path):
    (tmp_path / "catalog.yml").write_text(textwrap.dedent("""\
        stateshift_workloads:
          - name: shop
            engine: postgresql
            storage: {size: 1Gi}
            settings:
              application_name: !unsafe "{{ lookup('pipe', 'touch %s') }}"
              cluster_name: !unsafe "{%% if true %%}x{%% endif %%}"
        """) % (tmp_path / "templated"))
    (tmp_path / "play.yml").write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          vars_files: [catalog.yml]
          tasks:
            - stateshift.k3s.validate_catalog:
            - ansible.builtin.set_fact:
                objects: "{{ ansible_facts['stateshift_catalog'][0] | stateshift.k3s.postgresql_objects }}"
            - ansible.builtin.copy:
                content: "{{ objects | to_json }}"
                dest: "{{ playbook_dir }}/objects.json"
                mode: "0600"
        """))
    completed = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml")],
                               capture_output=True, text=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"), check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    objects = json.loads((tmp_path / "objects.json").read_text())
    conf = objects[1]["data"]["stateshift.conf"]
    assert "application_name = '{{ lookup(''pipe'', ''touch %s'') }}'" % (tmp_path / "templated") in conf
    assert "cluster_name = '{% if true %}x{% endif %}'" in conf
    assert not (tmp_path / "templated").exists()


def test_nfs_storage_objects_are_the_provisioner_then_the_classes():
    made = FILTERS["nfs_storage_objects"]({"name": "nas", "server": "192.168.1.5", "path": "/volume1/k8s-storage"},
                                          [{"name": "nfs-databases"}, {"name": "nfs-scratch", "reclaim_policy": "Delete"}])
    assert [obj["kind"] for obj in made] == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                                             "Deployment", "StorageClass", "StorageClass"]
    assert [obj["reclaimPolicy"] for obj in made[-2:]] == ["Retain", "Delete"]


def test_nfs_storage_objects_refuse_bad_input_naming_the_field():
    with pytest.raises(AnsibleFilterError, match=r"classes\[1\].name = 'nfs-db': is used twice"):
        FILTERS["nfs_storage_objects"]({"name": "nas", "server": "192.168.1.5", "path": "/volume1/k8s"}, [{"name": "nfs-db"}] * 2)
