from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.postgresql import postgresql_objects

GARDEN = {"name": "gardenos", "engine": "postgresql", "ha": "cloudnative-pg", "replicas": 3,
          "image": "ghcr.io/cloudnative-pg/postgresql:15", "storage": {"size": "10Gi", "class": "longhorn"},
          "settings": {"max_connections": 80, "jit": False},
          "source": {"host": "docker-host", "container": "gardenos-postgres-1", "database": "gardenos", "user": "postgres",
                     "password": "S3cret-never-rendered", "address": "192.0.2.10:5433"}}


def objects(entry=None):
    return {(item["kind"], item["metadata"]["name"]): item for item in postgresql_objects(validate_catalog([entry or GARDEN])[0])}


def test_a_cluster_of_three_imports_the_source_at_bootstrap():
    made = objects()
    spec = made[("Cluster", "gardenos-postgresql")]["spec"]
    assert (spec["instances"], spec["imageName"]) == (3, "ghcr.io/cloudnative-pg/postgresql:15")
    assert spec["storage"] == {"size": "10Gi", "storageClass": "longhorn"}
    assert spec["postgresql"]["parameters"] == {"jit": "off", "max_connections": "80"}
    initdb = spec["bootstrap"]["initdb"]
    assert (initdb["database"], initdb["owner"], initdb["secret"]) == ("gardenos", "gardenos", {"name": "gardenos-postgresql-owner"})
    assert initdb["import"] == {"type": "microservice", "databases": ["gardenos"], "source": {"externalCluster": "source"}}
    (external,) = spec["externalClusters"]
    assert external["connectionParameters"] == {"host": "192.0.2.10", "port": "5433", "user": "postgres", "dbname": "gardenos",
                                                "sslmode": "prefer"}
    assert external["password"] == {"name": "gardenos-postgresql-import-source", "key": "password"}


def test_no_password_is_rendered_and_the_client_service_selects_the_operators_primary():
    made = objects()
    assert "S3cret-never-rendered" not in repr(made)
    service = made[("Service", "gardenos-postgresql")]
    assert service["spec"]["selector"] == {"cnpg.io/cluster": "gardenos-postgresql", "cnpg.io/instanceRole": "primary"}
    assert sorted(kind for kind, _name in made) == ["Cluster", "Namespace", "Service"]


def test_without_a_source_the_cluster_starts_empty():
    entry = {key: value for key, value in GARDEN.items() if key != "source"}
    spec = objects(entry)[("Cluster", "gardenos-postgresql")]["spec"]
    assert "import" not in spec["bootstrap"]["initdb"] and "externalClusters" not in spec
