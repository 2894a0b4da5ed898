"""The builder makes the same objects the Jinja template roles/postgresql/templates/postgresql.yaml.j2 made."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jinja2
import yaml

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.postgresql import postgresql_objects

TEMPLATE = Path(__file__).resolve().parents[6] / "roles" / "postgresql" / "templates" / "postgresql.yaml.j2"

SAMPLES = [
    {"name": "shop", "engine": "postgresql", "storage": {"size": "1Gi", "class": "longhorn"}, "pod_security": "baseline",
     "databases": ["shop", {"name": "reports", "owner": "reporter"}, "audit"],
     "roles": [{"name": "reporter", "password_key": "reporter-password"}, {"name": "auditor", "password_key": "auditor-pw"},
               {"name": "readers", "login": False}],
     "settings": {"max_connections": 50, "search_path": "it's, public", "log_min_duration_statement": 500},
     "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
     "backup": {"schedule": "0 8 * * *", "retention_days": 30, "pvc_size": "2Gi", "storage_class": "nfs"},
     "network": {"allow_from": [{"namespace": "web"}, {"pod_labels": {"app": "shop"}},
                                {"namespace_labels": {"team": "a"}, "namespace": "b", "pod_labels": {"role": "api"}}]}},
    {"name": "wiki", "engine": "postgresql", "storage": {"size": "5Gi"}},
]


def _render_template(workload):
    environment = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
    environment.filters.update(
        to_json=json.dumps,
        hash=lambda data, kind: hashlib.new(kind, data.encode()).hexdigest(),
        combine=lambda *dicts: {k: v for d in dicts for k, v in d.items()},
    )
    text = environment.from_string(TEMPLATE.read_text()).render(
        postgresql_workload=workload, postgresql_uid=999, postgresql_claim_size="3Gi", postgresql_backup_claim_size="4Gi")
    return [document for document in yaml.safe_load_all(text) if document]


def test_the_builder_makes_what_the_template_made():
    for workload in validate_catalog(SAMPLES):
        expected = _render_template(workload)
        built = postgresql_objects(workload, uid=999, claim_size="3Gi", backup_claim_size="4Gi")
        assert [(o["kind"], o["metadata"]["name"]) for o in built] == [(o["kind"], o["metadata"]["name"]) for o in expected]
        for made, rendered in zip(built, expected):
            assert made == rendered, made["kind"]
