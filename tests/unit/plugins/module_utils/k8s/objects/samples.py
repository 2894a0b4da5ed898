"""Sample workloads for the object builder tests."""

from __future__ import annotations

SHOP = {
    "name": "shop", "engine": "postgresql", "storage": {"size": "1Gi", "class": "longhorn"}, "pod_security": "baseline",
    "databases": ["shop", {"name": "reports", "owner": "reporter"}, "audit"],
    "roles": [{"name": "readers", "login": False}, {"name": "reporter", "password_key": "reporter-password"},
              {"name": "auditor", "password_key": "auditor-pw"}],
    "settings": {"max_connections": 50, "search_path": "it's, public", "log_min_duration_statement": 500},
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    "backup": {"schedule": "0 8 * * *", "retention_days": 30, "pvc_size": "2Gi", "storage_class": "nfs",
               "s3": {"endpoint": "https://s3.example.com", "bucket": "shop-backups", "region": "eu-central-1"},
               "drill": {"schedule": "0 6 * * 0"}},
    "network": {"allow_from": [{"namespace": "web"}, {"pod_labels": {"app": "shop"}},
                               {"namespace_labels": {"team": "a"}, "namespace": "b", "pod_labels": {"role": "api"}}]},
}
WIKI = {"name": "wiki", "engine": "postgresql", "storage": {"size": "5Gi"}, "network": {"restrict_egress": False}}
