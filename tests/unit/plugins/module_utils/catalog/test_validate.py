from __future__ import annotations

import copy

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import schema
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.field import Field
from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import CatalogError, validate_catalog

VALID = {
    "name": "invoicetron",
    "namespace": "invoicetron",
    "pod_security": "baseline",
    "engine": "postgresql",
    "version": "18",
    "storage": {"class": "longhorn", "size": "10Gi"},
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    "databases": ["invoicetron", {"name": "reports", "owner": "invoicetron"}],
    "source": {"host": "ubuntu-vm", "container": "invoicetron-db", "database": "invoicetron"},
    "migration": {"mode": "offline", "jobs": 2, "verify": "checksum"},
    "backup": {"schedule": "0 8 * * *", "retention_days": 30},
    "clients": [{"kind": "Deployment", "name": "invoicetron"}],
}


def workload(**changes):
    result = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def errors_of(workloads):
    with pytest.raises(CatalogError) as caught:
        validate_catalog(workloads)
    return caught.value.errors


def test_a_valid_catalog_comes_back_with_defaults_filled_in():
    minimal = {"name": "wiki", "engine": "postgresql", "storage": {"size": "5Gi"}}
    catalog = validate_catalog([VALID, minimal])
    wiki = catalog[1]
    assert wiki["namespace"] == "wiki"
    assert wiki["image"] == "postgres:18-alpine"
    assert wiki["replicas"] == 1
    assert wiki["pod_security"] == "restricted"
    assert wiki["storage"] == {"class": None, "size": "5Gi"}
    assert wiki["migration"]["mode"] == "offline"
    assert catalog[0]["databases"] == [{"name": "invoicetron"}, {"name": "reports", "owner": "invoicetron"}]
    assert catalog[0]["clients"][0]["namespace"] == "invoicetron"


def test_the_input_is_not_modified():
    original = copy.deepcopy(VALID)
    validate_catalog([VALID])
    assert original == VALID


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "Invoice_Tron"}, "workload 'Invoice_Tron' (stateshift_workloads[0]): name = 'Invoice_Tron': is not a DNS-1123 label"),
        ({"namespace": "x" * 64}, "namespace = '" + "x" * 64 + "': is not a DNS-1123 label"),
        ({"engine": "mysql"}, "engine = 'mysql': is not one of postgresql, rabbitmq, mongodb; use one of them"),
        ({"engine": None}, "engine: is required"),
        ({"storage": {"size": "10GB"}}, "storage.size = '10GB': is not a Kubernetes quantity; write it like 10Gi"),
        ({"storage": {"size": "10"}}, "storage.size = '10': is smaller than 1Mi"),
        ({"storage": None}, "storage: is required"),
        ({"storge": {"size": "1Gi"}}, "storge: unknown field; did you mean 'storage'?"),
        ({"resources": {"requests": {"cpu": "two"}}}, "resources.requests.cpu = 'two': is not a Kubernetes quantity"),
        ({"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}},
         "resources.requests.memory = '2Gi': is above its limit 1Gi"),
        ({"pod_security": "strict"}, "pod_security = 'strict': is not one of privileged, baseline, restricted"),
        ({"replicas": 3}, "replicas = 3: a PostgreSQL StatefulSet without a high-availability manager"),
        ({"replicas": 0}, "replicas = 0: must be a whole number 1 or more"),
        ({"databases": ["Invoices"]}, "databases[0].name = 'Invoices': is not a valid PostgreSQL identifier"),
        ({"databases": ["a", "a"]}, "databases[1].name = 'a': is listed twice"),
        ({"source": {"host": "vm"}}, "source.container: is required"),
        ({"migration": {"mode": "live"}}, "migration.mode = 'live': is not one of offline, online"),
        ({"migration": {"jobs": 0}}, "migration.jobs = 0: must be a whole number from 1 to 64"),
        ({"backup": {"schedule": "daily at 8"}}, "backup.schedule = 'daily at 8': is not a cron schedule"),
        ({"backup": {"s3b": {"bucket": "b"}}}, "backup.s3b: unknown field; did you mean 's3'?"),
        ({"backup": {"s3": {"endpoint": "https://s3.example.com", "bucket": "b"}}}, "backup.s3.bucket = 'b': is not an S3 bucket name"),
        ({"clients": [{"kind": "Pod", "name": "x"}]}, "clients[0].kind = 'Pod': is not one of Deployment, StatefulSet, DaemonSet"),
        ({"auth": {"secret": "db", "password_key": "pw"}, "secrets": {"db": {"other": {"generate": "hex32"}}}},
         "auth.password_key = 'pw': refers to Secret key db/pw that is not declared under secrets"),
        ({"roles": [{"name": "app", "password_key": "app-pw"}],
          "secrets": {"invoicetron-secrets": {"postgres-password": {"generate": "hex32"}}}},
         "roles[0].password_key = 'app-pw': refers to Secret key invoicetron-secrets/app-pw that is not declared"),
    ],
)
def test_each_problem_names_the_workload_field_value_and_fix(changes, expected):
    errors = errors_of([workload(**changes)])
    assert any(expected in error for error in errors), errors


def test_every_problem_is_reported_at_once():
    errors = errors_of([workload(engine="mysql", storage={"size": "big"}), workload(name="Bad Name")])
    assert len(errors) >= 3
    assert any("stateshift_workloads[1]" in error for error in errors)


def test_two_workloads_cannot_claim_the_same_namespace_and_name():
    errors = errors_of([VALID, workload(source=None)])
    assert "namespace/name invoicetron/invoicetron is already used by stateshift_workloads[0]" in errors[0]


@pytest.mark.parametrize(("replicas", "expected"), [
    (2, "replicas = 2: has no majority after a failure: with 2 members a primary needs 2, so losing either stops every write"),
    (4, "replicas = 4: has no majority after a failure: with 4 members a primary needs 3, so losing half of them stops"),
    (9, "replicas = 9: is more members than a replica set may have voting (7)"),
])
def test_a_replica_set_has_an_odd_member_count(replicas, expected):
    errors = errors_of([{"name": "vinylvault", "engine": "mongodb", "storage": {"size": "1Gi"}, "replicas": replicas}])
    assert any(expected in error for error in errors), errors


def test_a_replica_sets_root_password_is_not_rotated():
    secrets = {"vinylvault-secrets": {"mongodb-root-password": {"op": "op://K/V/root", "generate": "hex32", "rotate": True},
                                      "mongodb-keyfile": {"op": "op://K/V/keyfile", "generate": "hex32"}}}
    errors = errors_of([{"name": "vinylvault", "engine": "mongodb", "storage": {"size": "1Gi"}, "secrets": secrets}])
    assert any("secrets.mongodb-root-password.rotate = True: is not built for MongoDB" in error for error in errors), errors


def test_a_replica_set_gets_its_defaults():
    vault = validate_catalog([{"name": "vinylvault", "engine": "mongodb", "storage": {"size": "1Gi"}, "replicas": 3}])[0]
    assert (vault["image"], vault["replica_set"]) == ("mongo:7.0", "rs0")
    assert vault["auth"] == {"user": "vinylvault", "secret": "vinylvault-secrets", "password_key": "mongodb-root-password",
                             "keyfile_key": "mongodb-keyfile"}
    assert vault["objects"]["statefulset"] == "vinylvault-mongodb"
    errors = errors_of([{"name": "v", "engine": "mongodb", "storage": {"size": "1Gi"}, "replica_set": "rs 0"}])
    assert any("replica_set = 'rs 0': is not a replica set name" in error for error in errors), errors


def test_the_catalog_must_be_a_list():
    assert "must be a list of workloads" in errors_of({"name": "x"})[0]


def test_non_postgresql_engines_refuse_databases():
    errors = errors_of([workload(engine="mongodb")])
    assert any("databases" in e and "only used by the postgresql engine" in e for e in errors)


def test_secret_keys_are_not_required_when_the_catalog_declares_no_secrets():
    validate_catalog([workload(roles=[{"name": "app", "password_key": "app-pw"}])])


def test_every_workload_carries_its_object_names_labels_and_selector():
    wiki = validate_catalog([{"name": "wiki", "engine": "postgresql", "storage": {"size": "5Gi"}}])[0]
    assert wiki["objects"]["statefulset"] == "wiki-postgresql"
    assert wiki["objects"]["headless_service"] == "wiki-postgresql-hl"
    assert wiki["objects"]["primary_pod"] == "wiki-postgresql-0"
    assert wiki["objects"]["backup_cronjob"] == "wiki-postgresql-backup"
    assert wiki["selector"] == {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "wiki"}
    assert wiki["labels"]["app.kubernetes.io/managed-by"] == "stateshift.k3s"
    assert wiki["backup_labels"]["app.kubernetes.io/name"] == "postgresql-backup"


def test_derived_defaults_follow_the_workload():
    wiki = validate_catalog([{"name": "my-wiki", "engine": "postgresql", "version": 15, "storage": {"size": "5Gi", "class": "nfs"},
                              "clients": [{"name": "app"}], "roles": ["reader"]}])[0]
    assert wiki["version"] == "15"
    assert wiki["image"] == "postgres:15-alpine"
    assert wiki["auth"] == {"user": "my-wiki", "secret": "my-wiki-secrets", "password_key": "postgres-password",
                            "replication_password_key": "replication-password", "rewind_password_key": "rewind-password"}
    assert wiki["ha"] == "none"
    assert wiki["backup"] == {"schedule": "0 3 * * *", "retention_days": 7, "pvc_size": "5Gi", "storage_class": "nfs"}
    assert wiki["databases"] == [{"name": "my_wiki"}]
    assert wiki["roles"] == [{"name": "reader", "login": True}]
    assert wiki["clients"] == [{"name": "app", "kind": "Deployment", "namespace": "my-wiki", "settings": []}]
    assert wiki["migration"] == {"mode": "offline", "jobs": 2, "table_part_mib": 1024, "verify": "checksum", "transport": "auto",
                                 "backup": True, "backup_dir": "/var/backups/stateshift", "keep_privileged_roles": False}
    assert wiki["network"] == {"allow_from": [], "restrict_egress": True}
    assert wiki["retire"] == {"soak_days": 7, "watch_seconds": 60, "archive_dir": "/var/backups/stateshift/retired"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"engine": "mongodb", "databases": None, "backup": None, "source": {"host": "vm", "container": "db", "databases": "all"}},
         "source.databases = 'all': is only used by the postgresql engine; remove it"),
        ({"source": dict(VALID["source"], port=5432)}, "source.port: unknown field; allowed: host, container, database, databases, user"),
    ],
)
def test_what_is_not_built_is_refused_not_ignored(changes, expected):
    errors = errors_of([workload(**changes)])
    assert any(expected in error for error in errors), errors


def test_a_field_whose_feature_is_not_built_is_refused_with_the_feature_named(monkeypatch):
    unbuilt = Field("retire.teleport", "bool", "Not built.", engines=("postgresql",), not_built="teleporter step of the retire phase")
    monkeypatch.setattr(schema, "FIELDS", (*schema.FIELDS, unbuilt))
    errors = errors_of([workload(retire={"teleport": True})])
    assert errors == ["workload 'invoicetron' (stateshift_workloads[0]): retire.teleport = True: is not built yet: the teleporter step "
                      "of the retire phase does not exist, so nothing would act on it; remove it until the teleporter step of the "
                      "retire phase is built (see the issues); nothing would act on it"]


PROXMOX_VM = {"api_host": "pve1.example.com", "api_user": "root@pam", "api_token_id": "stateshift", "node": "pve1", "vmid": 101}


def test_a_proxmox_vm_gets_its_defaults_and_no_vm_means_no_vm_step():
    retired, kept = validate_catalog([workload(retire={"vm": PROXMOX_VM}), workload(name="wiki", namespace="wiki")])
    assert retired["retire"]["vm"] == dict(PROXMOX_VM, api_port=8006, token_secret_env="PROXMOX_TOKEN_SECRET", action="stop",
                                           validate_certs=True)
    assert "vm" not in kept["retire"]


@pytest.mark.parametrize(("vm", "expected"), [
    (dict(PROXMOX_VM, api_host="https://pve1.example.com:8006"), "retire.vm.api_host = 'https://pve1.example.com:8006': is not a "
     "host name or IP address (no scheme, port, path or spaces); write only the host name or IP address, like pve1.example.com "
     "or 192.0.2.5 (the port goes in api_port)"),
    (dict(PROXMOX_VM, api_host="pve1 .example.com"), "retire.vm.api_host = 'pve1 .example.com': is not a host name or IP address"),
    (dict(PROXMOX_VM, api_host="pve1:8006"), "retire.vm.api_host = 'pve1:8006': is not a host name or IP address"),
    (dict(PROXMOX_VM, vmid=99), "retire.vm.vmid = 99: must be a whole number from 100 to 999999999; set a number from 100 to 999999999"),
    (dict(PROXMOX_VM, action="destroy"), "retire.vm.action = 'destroy': is not one of stop, delete; use one of them"),
    (dict(PROXMOX_VM, api_port=0), "retire.vm.api_port = 0: must be a whole number from 1 to 65535"),
    (dict(PROXMOX_VM, api_user="root"), "retire.vm.api_user = 'root': is not a Proxmox user like root@pam; write it like root@pam"),
    (dict(PROXMOX_VM, api_token_id="root@pam!stateshift"), "retire.vm.api_token_id = 'root@pam!stateshift': is not a Proxmox API "
     "token ID"),
    (dict(PROXMOX_VM, token_secret_env="PROXMOX-SECRET"), "retire.vm.token_secret_env = 'PROXMOX-SECRET': is not an environment "
     "variable name"),
    (dict(PROXMOX_VM, token_secret="abc"), "retire.vm.token_secret: unknown field; did you mean 'token_secret_env'?"),
    ({key: value for key, value in PROXMOX_VM.items() if key != "vmid"}, "retire.vm.vmid: is required; give the VM's ID, e.g. vmid: 101"),
    ({key: value for key, value in PROXMOX_VM.items() if key != "node"}, "retire.vm.node: is required"),
])
def test_a_proxmox_vm_is_refused_with_the_field_to_fix(vm, expected):
    errors = errors_of([workload(retire={"vm": vm})])
    assert any(expected in error for error in errors), errors


MONGO_SOURCE = {"host": "vm", "container": "vinylvault-db", "database": "vault"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"source": {"host": "vm", "container": "db"}}, "source.database: is required; set the inventory host that runs Docker"),
        ({"source": dict(MONGO_SOURCE, database="vault.records")}, "source.database = 'vault.records': is not a MongoDB database name"),
        ({"source": dict(MONGO_SOURCE, database="admin")}, "source.database = 'admin': is one of MongoDB's own databases"),
        ({"source": MONGO_SOURCE, "migration": {"mode": "online"}}, "migration.mode = 'online': is PostgreSQL-only"),
        ({"source": MONGO_SOURCE, "migration": {"transport": "job"}},
         "migration.transport = 'job': a MongoDB copy streams through the controller"),
    ],
)
def test_a_mongodb_source_is_one_database_of_a_container_copied_offline(changes, expected):
    errors = errors_of([workload(engine="mongodb", databases=None, backup=None, **changes)])
    assert any(expected in error for error in errors), errors


def test_a_mongodb_source_with_its_database_is_accepted():
    (checked,) = validate_catalog([workload(engine="mongodb", databases=None, backup=None, source=MONGO_SOURCE)])
    assert checked["source"]["database"] == "vault"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"host": "vm"}, "source.container: is required; set the inventory host that runs Docker and the name of the old broker's"),
        ({"dsn": "host=vm"}, "source.dsn = <hidden>: is only used by the postgresql engine; remove it"),
        ({"host": "vm", "container": "mq", "password": "x"},
         "source.password = <hidden>: is only used by the postgresql engine; remove it"),
    ],
)
def test_a_broker_source_is_a_container_on_a_host(source, expected):
    errors = errors_of([workload(engine="rabbitmq", databases=None, backup=None, source=source)])
    assert any(expected in error for error in errors), errors


def test_a_broker_source_is_accepted():
    broker = validate_catalog([{"name": "bowmark", "engine": "rabbitmq", "storage": {"size": "1Gi"},
                                "source": {"host": "vm", "container": "bowmark-broker", "address": "10.0.0.5"}}])[0]
    assert broker["source"]["container"] == "bowmark-broker"


def test_an_error_without_a_value_omits_it():
    errors = errors_of([workload(storage={"class": "longhorn"})])
    assert "workload 'invoicetron' (stateshift_workloads[0]): storage.size: is required; set the volume size, e.g. size: 10Gi" in errors


def test_unknown_fields_are_found_at_every_depth():
    errors = errors_of([workload(clients=[{"name": "app", "knd": "Deployment"}], network={"allow_from": [{"namespac": "web"}]},
                                 resources={"requests": {"cpus": "1"}})])
    assert "workload 'invoicetron' (stateshift_workloads[0]): clients[0].knd: unknown field; did you mean 'kind'?" in errors
    assert "workload 'invoicetron' (stateshift_workloads[0]): network.allow_from[0].namespac: unknown field; did you mean 'namespace'?" \
        in errors
    assert any("resources.requests.cpus: unknown field; did you mean 'cpu'?" in error for error in errors)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"migration": {"force": True}}, "migration.force = True: is no longer a catalog field: replacing a target database is a "
         "choice for one run, never a standing default; remove it; to replace a target database in one run, run the migrate "
         "playbook with -e stateshift_force=true (or give pg_migrate force: true)"),
        ({"migration": {"backup_dir": "backups"}}, "migration.backup_dir = 'backups': is not an absolute path"),
        ({"roles": [{"name": "app", "login": "no"}]}, "roles[0].login = 'no': must be true or false"),
        ({"clients": {"name": "app"}}, "clients = {'name': 'app'}: must be a list; list the workloads that use this database"),
        ({"settings": ["a"]}, "settings = ['a']: must be a mapping; write server settings as name: value"),
        ({"network": {"allow_from": [{}]}}, "network.allow_from[0] = {}: is empty; set namespace, namespace_labels or pod_labels"),
        ({"storage": {"size": "1Gi", "class": "Not_A_Class"}}, "storage.class = 'Not_A_Class': is not a StorageClass name"),
        ({"databases": [3]}, "databases[0] = 3: must be a mapping"),
        ({"roles": [{"login": True}]}, "roles[0].name: is required; name the role"),
    ],
)
def test_types_and_rules_come_from_the_schema(changes, expected):
    errors = errors_of([workload(**changes)])
    assert any(expected in error for error in errors), errors


def test_a_null_storage_class_means_the_default_class():
    assert validate_catalog([workload(storage={"size": "1Gi", "class": None})])[0]["storage"]["class"] is None


def test_two_workloads_declaring_one_secret_key_differently_are_refused():
    first = workload(secrets={"invoicetron-secrets": {"postgres-password": {"op": "op://K/A/pw"}}})
    second = workload(name="other", auth={"secret": "invoicetron-secrets"},
                      secrets={"invoicetron-secrets": {"postgres-password": {"op": "op://K/B/pw"}}})
    errors = errors_of([first, second])
    assert errors == ["workload 'other' (stateshift_workloads[1]): secrets.invoicetron-secrets.postgres-password = 'op://K/B/pw': "
                      "Secret invoicetron/invoicetron-secrets key postgres-password is declared differently by workload "
                      "'invoicetron' (op://K/A/pw); declare it once or make both declarations identical"]


@pytest.mark.parametrize("changes, expected", [
    ({"cutover": {"remove_rules": [{"namespace": "cf", "name": "cloudflared", "cidr": "10.10.50.10"}]}},
     "cutover.remove_rules[0].cidr = '10.10.50.10': has no prefix length (/32 for one IPv4 address); write it like 10.10.50.10/32"),
    ({"cutover": {"remove_rules": [{"namespace": "cf", "name": "cloudflared", "cidr": "10.10.50.300/32"}]}},
     "cutover.remove_rules[0].cidr = '10.10.50.300/32': is not a CIDR like 10.10.50.10/32"),
    ({"cutover": {"remove_rules": [{"kind": "CalicoPolicy", "namespace": "cf", "name": "x", "cidr": "10.0.0.1/32"}]}},
     "cutover.remove_rules[0].kind = 'CalicoPolicy': is not one of NetworkPolicy, CiliumNetworkPolicy"),
    ({"cutover": {"service": "invoicetron-db"}}, "source.address: must be IP:port when cutover.service is set"),
    ({"cutover": {"service": "invoicetron-db"}, "source": dict(VALID["source"], address="db.example.com:5432")},
     "source.address = 'db.example.com:5432': must be IP:port when cutover.service is set"),
    ({"source": dict(VALID["source"], compose_services=["app", "bad name"])},
     "source.compose_services = ['app', 'bad name']: names services that Compose cannot have: bad name"),
    ({"source": dict(VALID["source"], compose_dir="relative/dir")}, "source.compose_dir = 'relative/dir': is not an absolute path"),
    ({"source": {"dsn": "host=db dbname=app", "compose_dir": "/srv/app"}},
     "source.compose_dir = '/srv/app': needs a source on a Docker host (host and container), not a dsn"),
    ({"clients": [{"name": "app", "settings": [{"name": "app-env", "key": "DATABASE_URL", "form": "uri"}]}]},
     "clients[0].settings[0].form = 'uri': is not one of url, host, host_port"),
    ({"clients": [{"name": "app", "settings": [{"name": "app-env"}]}]}, "clients[0].settings[0].key: is required; name the key"),
])
def test_cutover_fields_are_checked_before_anything_runs(changes, expected):
    errors = errors_of([workload(**changes)])
    assert any(expected in error for error in errors), errors


def test_cutover_fields_get_their_defaults():
    [valid] = validate_catalog([workload(
        source=dict(VALID["source"], compose_dir="/home/app/invoicetron", address="10.10.50.10:5432"),
        clients=[{"name": "app", "settings": [{"name": "app-env", "key": "DATABASE_URL"}]}],
        cutover={"service": "invoicetron-db", "remove_rules": [{"namespace": "cf", "name": "cloudflared", "cidr": "10.10.50.10/32"}]})])
    assert valid["source"]["compose_services"] == []
    assert valid["clients"][0]["settings"] == [{"name": "app-env", "key": "DATABASE_URL", "kind": "Secret", "form": "url"}]
    assert valid["cutover"]["remove_rules"][0]["kind"] == "NetworkPolicy"
    assert valid["objects"]["ledger"] == "invoicetron-postgresql-ledger"


def test_service_name_names_the_service_the_statefulset_and_every_other_object():
    wiki = validate_catalog([{"name": "wiki", "engine": "postgresql", "storage": {"size": "5Gi"}, "service_name": "postgres"}])[0]
    assert wiki["service_name"] == "postgres"
    assert (wiki["objects"]["service"], wiki["objects"]["statefulset"]) == ("postgres", "postgres")
    assert wiki["objects"]["primary_pod"] == "postgres-0"
    assert wiki["objects"]["backup_claim"] == "postgres-backup"


def test_service_name_defaults_to_name_and_engine():
    assert validate_catalog([VALID])[0]["service_name"] == "invoicetron-postgresql"


@pytest.mark.parametrize("bad, problem", [("Postgres", "is not a DNS-1123 label"), ("p" * 53, "is longer than 52 characters")])
def test_a_bad_service_name_is_refused_with_its_fix(bad, problem):
    errors = errors_of([workload(service_name=bad)])
    assert len(errors) == 1 and "service_name" in errors[0] and problem in errors[0] and "at most 52" in errors[0]


def test_two_workloads_of_a_namespace_cannot_share_a_service_name():
    other = workload(name="wiki", databases=["wiki"], source=None, clients=None, service_name="invoicetron-postgresql")
    errors = errors_of([VALID, other])
    assert len(errors) == 1
    assert "service_name" in errors[0] and "StatefulSet invoicetron/invoicetron-postgresql of stateshift_workloads[0]" in errors[0]


def test_cutover_service_cannot_be_the_workloads_own_service():
    errors = errors_of([workload(service_name="postgres", cutover={"service": "postgres"},
                                 source=dict(VALID["source"], address="192.0.2.10:5432"))])
    assert len(errors) == 1 and "cutover.service" in errors[0] and "is the workload's own Service" in errors[0]


def test_names_kubernetes_would_refuse_as_too_long_are_refused_with_the_field_to_shorten():
    drill = dict(VALID["backup"], drill={"schedule": "@weekly"})
    errors = errors_of([workload(service_name="s" * 40, backup=drill)])
    assert len(errors) == 1 and "service_name" in errors[0]
    assert "drill cronjob name %s-restore-drill, 54 characters, over Kubernetes' limit of 52" % ("s" * 40) in errors[0]
    errors = errors_of([workload(name="n" * 40, namespace="short", databases=["n"], source=None)])
    assert "name = '%s'" % ("n" * 40) in errors[0] and "backup cronjob name" in errors[0]


def test_two_workloads_cannot_keep_their_off_site_backups_in_one_place():
    s3 = dict(VALID["backup"], s3={"endpoint": "https://s3.example.com", "bucket": "backups", "prefix": "db"})
    other = workload(name="wiki", databases=["wiki"], source=None, clients=None, backup=s3)
    errors = errors_of([workload(backup=s3), other])
    assert len(errors) == 1 and "backup.s3.prefix = 'db': is also the off-site place of stateshift_workloads[0]" in errors[0]


RABBITMQ = {"name": "bowmark", "engine": "rabbitmq", "storage": {"size": "1Gi"}, "vhosts": ["app"],
            "users": [{"name": "app", "password_key": "app-password", "vhosts": ["app"]}]}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"vhosts": ["bad vhost"]}, "vhosts[0].name = 'bad vhost': is not a name RabbitMQ takes here; use letters, digits and _ . / @ -"),
        ({"users": [{"name": "app", "password_key": "app-password", "vhosts": ["other"]}]},
         "users[0].vhosts[0] = 'other': is not one of vhosts (app); declare it under vhosts"),
        ({"users": [{"name": "app"}]}, "users[0].password_key: is required; give the key of the user's password"),
        ({"users": [{"name": "app", "password_key": "k", "tags": ["root"]}]}, "has tag(s) root that RabbitMQ does not know"),
        ({"replicas": 2}, "replicas = 2: RabbitMQ nodes of the StatefulSet would not form a cluster"),
        ({"databases": ["x"]}, "databases = ['x']: is only used by the postgresql engine; remove it"),
        ({"vhosts": ["app", "app"]}, "vhosts[1].name = 'app': is listed twice"),
        ({"secrets": {"bowmark-secrets": {"rabbitmq-password": {"generate": "hex32"}, "app-password": {"generate": "hex32"}}}},
         "auth.cookie_key = 'erlang-cookie': refers to Secret key bowmark-secrets/erlang-cookie that is not declared under secrets"),
    ],
)
def test_rabbitmq_workloads_are_checked_field_by_field(changes, expected):
    errors = errors_of([dict(RABBITMQ, **changes)])
    assert any(expected in error for error in errors), errors


def test_a_rabbitmq_workload_gets_its_defaults():
    filled = validate_catalog([{"name": "mq", "engine": "rabbitmq", "storage": {"size": "1Gi"}}])[0]
    assert filled["vhosts"] == [{"name": "/"}] and filled["users"] == []
    assert filled["auth"] == {"user": "mq", "secret": "mq-secrets", "password_key": "rabbitmq-password", "cookie_key": "erlang-cookie"}
    assert filled["image"] == "rabbitmq:3.10-management" and filled["objects"]["definitions_secret"] == "mq-rabbitmq-definitions"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"replicas": 3}, "replicas = 3: a PostgreSQL StatefulSet without a high-availability manager would run that many independent "
                      "primaries with diverging data; set ha: patroni"),
    ({"replicas": 3, "ha": "patroni"}, "image: must be given with ha: patroni: the default postgres image has no Patroni"),
    ({"ha": "stolon", "image": "x:1"}, "ha = 'stolon': is not one of none, patroni, cloudnative-pg"),
    ({"ha": "patroni", "image": "x:1", "auth": {"replication_password_key": "postgres-password"}},
     "auth.replication_password_key = 'postgres-password': is also auth.password_key; give each of the cluster's three users"),
    ({"ha": "patroni", "image": "x:1", "secrets": {"invoicetron-secrets": {"postgres-password": {"value": "x"}}}},
     "auth.replication_password_key = 'replication-password': refers to Secret key invoicetron-secrets/replication-password "
     "that is not declared under secrets"),
])
def test_a_patroni_cluster_is_refused_with_the_field_to_fix(changes, expected):
    errors = errors_of([dict(workload(), **changes)])
    assert any(expected in error for error in errors), errors


def test_a_patroni_cluster_of_three_is_accepted():
    keys = ("postgres-password", "replication-password", "rewind-password")
    secrets = {"invoicetron-secrets": {key: {"op": "op://Lab/invoicetron/%s" % key, "generate": "hex32"} for key in keys}}
    made = validate_catalog([dict(workload(), ha="patroni", replicas=3, image="registry.example.com/patroni:15", secrets=secrets)])[0]
    assert (made["ha"], made["replicas"], made["objects"]["replica_service"]) == ("patroni", 3, "invoicetron-postgresql-replicas")


@pytest.mark.parametrize(("source", "expected"), [
    ({"patroni_members": ["db1"]}, "source.patroni_members = ['db1']: must list the cluster's member containers (two or more)"),
    ({"patroni_members": ["db1", "db1"]}, "source.patroni_members = ['db1', 'db1']: lists db1 twice"),
    ({"patroni_members": ["db 1", "db2"]}, "names containers Docker cannot have: db 1"),
    ({"patroni_members": ["db1", "db2"], "container": "db1"}, "is given with source.container; keep one"),
])
def test_a_patroni_source_is_refused_with_the_field_to_fix(source, expected):
    base = workload()
    errors = errors_of([dict(base, source=dict(base["source"], **source))])
    assert any(expected in error for error in errors), errors


def test_a_patroni_source_needs_no_container():
    base = workload()
    given = {key: value for key, value in base["source"].items() if key != "container"}
    made = validate_catalog([dict(base, source=dict(given, patroni_members=["db1", "db2", "db3"]))])[0]
    assert made["source"]["patroni_members"] == ["db1", "db2", "db3"] and "container" not in made["source"]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"ha": "cloudnative-pg"}, "image: must be given with ha: cloudnative-pg: the operator runs its own operand images"),
    ({"ha": "cloudnative-pg", "image": "x:1", "roles": ["reader"]}, "roles: are not created in a CloudNativePG Cluster"),
    ({"ha": "cloudnative-pg", "image": "x:1", "databases": ["a", "b"]}, "databases = ['a', 'b']: lists more than one database"),
    ({"ha": "cloudnative-pg", "image": "x:1"}, "backup: is the operator's with ha: cloudnative-pg"),
    ({"ha": "cloudnative-pg", "image": "x:1", "backup": None},
     "source.address: is required with ha: cloudnative-pg (the operator imports the source at bootstrap)"),
])
def test_a_cloudnative_pg_cluster_refuses_what_it_would_ignore(changes, expected):
    errors = errors_of([workload(**changes)])
    assert any(expected in error for error in errors), errors


def test_a_cloudnative_pg_cluster_of_three_is_accepted():
    made = validate_catalog([workload(ha="cloudnative-pg", replicas=3, image="ghcr.io/cloudnative-pg/postgresql:15", backup=None,
                                      databases=["invoicetron"],
                                      source=dict(VALID["source"], address="192.0.2.10:5432", password="pw"))])[0]
    assert (made["ha"], made["replicas"], made["objects"]["cnpg_owner_secret"]) == ("cloudnative-pg", 3, "invoicetron-postgresql-owner")
