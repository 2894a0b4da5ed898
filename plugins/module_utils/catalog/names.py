# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Kubernetes object name the collection makes, made here and nowhere else.

`object_names(workload)` is stored by the catalog under each workload's ``objects`` key, so roles,
templates, modules and the migration engine read names instead of spelling them.
"""

from __future__ import annotations

MANAGED_BY = "stateshift.k3s"


def default_app_name(workload):
    """The StatefulSet and client Service of a workload that does not set ``service_name``: ``<name>-<engine>``."""
    return "%s-%s" % (workload["name"], workload["engine"])


def app_name(workload):
    """The StatefulSet and client Service of a workload: its ``service_name``, else ``<name>-<engine>``."""
    return workload.get("service_name") or default_app_name(workload)


def default_secret(workload_name):
    """The Secret the workload's credentials live in unless ``auth.secret`` says otherwise."""
    return "%s-secrets" % workload_name


def object_names(workload):
    """The names of every object a workload owns, keyed by what the object is."""
    app = app_name(workload)
    return {
        "app": app,
        "statefulset": app,
        "service": app,
        "headless_service": "%s-hl" % app,
        "primary_pod": pod_name(app, 0),
        "container": workload["engine"],
        "data_claim": "data-%s" % pod_name(app, 0),
        "config_map": "%s-config" % app,
        "init_config_map": "%s-init" % app,
        "definitions_secret": "%s-definitions" % app,
        "pdb": app,
        "network_policy": app,
        "drain_network_policy": "%s-drain" % app,
        "backup_cronjob": "%s-backup" % app,
        "backup_claim": "%s-backup" % app,
        "restore_job_prefix": "%s-restore" % app,
        "drill_cronjob": "%s-restore-drill" % app,
        "migration_marker": "%s-migration" % app,
        "migration_job": "%s-migration" % app,
        "migration_source_secret": "%s-migration-source" % app,
        "ledger": "%s-ledger" % app,
        "cutover_previous": "%s-cutover-previous" % app,
        "source_endpoints": "%s-source" % app,
        # ha: patroni
        "replica_service": "%s-replicas" % app,
        "patroni_scope": "%s-ha" % app,  # Patroni's ConfigMaps are <scope>-leader, -config, -sync, -failover
        "patroni_config_map": "%s-patroni" % app,
        "patroni_account": "%s-patroni" % app,
        # ha: cloudnative-pg (the operator names its pods <app>-1, <app>-2, ...)
        "cnpg_owner_secret": "%s-owner" % app,
        "cnpg_import_secret": "%s-import-source" % app,
    }


def service_host(workload):
    """The DNS name at which clients reach the workload's Service, from any namespace."""
    return "%s.%s.svc" % (app_name(workload), workload["namespace"])


# The longest name Kubernetes takes for these objects: a CronJob's name is suffixed for its Jobs, a StatefulSet's
# for its pods' controller-revision-hash label (11 characters each), a Service's name is a DNS label.
NAME_LIMITS = {"statefulset": 52, "backup_cronjob": 52, "drill_cronjob": 52, "service": 63, "headless_service": 63,
               "replica_service": 63}


def names_too_long(workload):
    """(kind, name) of each object name of ``workload`` that Kubernetes would refuse as too long."""
    made = object_names(workload)
    return [(kind, made[kind]) for kind, limit in NAME_LIMITS.items() if len(made[kind]) > limit]


def pod_name(statefulset, ordinal):
    return "%s-%d" % (statefulset, ordinal)


def selector(workload):
    """The labels that select a workload's database pods."""
    return {"app.kubernetes.io/name": workload["engine"], "app.kubernetes.io/instance": workload["name"]}


def labels(workload, component=None):
    """The labels on every object of a workload (``component`` for the backup's objects)."""
    name = workload["engine"] if component is None else "%s-%s" % (workload["engine"], component)
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": workload["name"],
            "app.kubernetes.io/managed-by": MANAGED_BY}
