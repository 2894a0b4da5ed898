from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.statefulset_plan import plan, plan_claims

SELECTOR = {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "alpha"}


def desired(**changes):
    base = {"name": "alpha-postgresql", "namespace": "ns", "claim": "data", "size": "10Gi", "storage_class": "longhorn",
            "service_name": "alpha-postgresql-hl", "selector": SELECTOR, "pod_management_policy": None}
    base.update(changes)
    return base


def live(size="10Gi", storage_class="longhorn", service_name="alpha-postgresql-hl", selector=None):
    return {"spec": {"serviceName": service_name, "podManagementPolicy": "OrderedReady",
                     "selector": {"matchLabels": selector or SELECTOR},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"storageClassName": storage_class,
                                                        "resources": {"requests": {"storage": size}}}}]}}


def claim(name, size, storage_class="longhorn"):
    return {"metadata": {"name": name}, "spec": {"storageClassName": storage_class, "resources": {"requests": {"storage": size}}}}


EXPANDABLE = {"longhorn": {"allowVolumeExpansion": True}, "local-path": {"allowVolumeExpansion": False}}


def test_a_new_statefulset_takes_the_desired_size():
    assert plan(None, desired(), [], {}) == {"claim_size": "10Gi", "resize": [], "errors": [], "notes": []}


def test_unchanged_size_needs_nothing():
    result = plan(live(), desired(), [claim("data-alpha-postgresql-0", "10Gi")], EXPANDABLE)
    assert result["resize"] == [] and result["errors"] == []


def test_growth_keeps_the_template_and_expands_each_claim():
    claims = [claim("data-alpha-postgresql-0", "10Gi")]
    result = plan(live(), desired(size="20Gi"), claims, EXPANDABLE)
    assert result["claim_size"] == "10Gi"
    assert result["resize"] == [{"name": "data-alpha-postgresql-0", "from": "10Gi", "to": "20Gi"}]
    assert "expanded to 20Gi" in result["notes"][0]


def test_growth_is_refused_when_the_class_cannot_expand():
    result = plan(live(storage_class="local-path"), desired(size="20Gi", storage_class="local-path"),
                  [claim("data-alpha-postgresql-0", "10Gi", "local-path")], EXPANDABLE)
    assert result["resize"] == []
    assert "StorageClass local-path does not allow it" in result["errors"][0]
    assert "keep storage.size at 10Gi" in result["errors"][0]


def test_growth_uses_the_claims_class_when_the_template_names_none():
    result = plan(live(storage_class=None), desired(size="20Gi", storage_class=None),
                  [claim("data-alpha-postgresql-0", "10Gi", "longhorn")], EXPANDABLE)
    assert result["errors"] == [] and len(result["resize"]) == 1


def test_shrinking_is_refused():
    result = plan(live(), desired(size="5Gi"), [], EXPANDABLE)
    assert "cannot shrink from 10Gi to 5Gi" in result["errors"][0]


def test_other_immutable_changes_are_refused_with_what_to_do():
    result = plan(live(storage_class="local-path"), desired(), [], EXPANDABLE)
    assert "storage.class cannot change from local-path to longhorn" in result["errors"][0]
    result = plan(live(service_name="postgresql"), desired(), [], EXPANDABLE)
    assert "serviceName cannot change" in result["errors"][0] and "--cascade=orphan" in result["errors"][0]
    result = plan(live(selector={"app": "postgresql"}), desired(), [], EXPANDABLE)
    assert "selector cannot change" in result["errors"][0]


def test_a_statefulset_without_our_claim_template_is_not_ours():
    foreign = live()
    foreign["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] = "pgdata"
    assert "has no volume claim template 'data'" in plan(foreign, desired(), [], EXPANDABLE)["errors"][0]


def bound(name, size, storage_class="longhorn"):
    result = claim(name, size, storage_class)
    result["spec"]["volumeName"] = "pvc-%s" % name
    return result


BACKUP = [{"name": "alpha-postgresql-backup", "size": "20Gi", "field": "backup.pvc_size"}]


def test_a_new_backup_claim_takes_its_size():
    assert plan_claims("ns", BACKUP, {}, EXPANDABLE) == {"sizes": {"alpha-postgresql-backup": "20Gi"}, "resize": [],
                                                         "recreate": [], "errors": []}


def test_a_bound_backup_claim_keeps_its_live_size_and_is_expanded():
    result = plan_claims("ns", BACKUP, {"alpha-postgresql-backup": bound("alpha-postgresql-backup", "10Gi")}, EXPANDABLE)
    assert result["sizes"] == {"alpha-postgresql-backup": "10Gi"} and result["errors"] == []
    assert result["resize"] == [{"name": "alpha-postgresql-backup", "from": "10Gi", "to": "20Gi"}]


def test_a_bound_backup_claim_is_never_shrunk_and_the_error_names_the_field():
    result = plan_claims("ns", BACKUP, {"alpha-postgresql-backup": bound("alpha-postgresql-backup", "30Gi")}, EXPANDABLE)
    assert result["resize"] == []
    assert "ns/alpha-postgresql-backup: backup.pvc_size cannot shrink from 30Gi to 20Gi" in result["errors"][0]


def test_a_bound_backup_claim_on_a_class_without_expansion_is_refused():
    live = {"alpha-postgresql-backup": bound("alpha-postgresql-backup", "10Gi", "local-path")}
    result = plan_claims("ns", BACKUP, live, EXPANDABLE)
    assert "StorageClass local-path does not allow it" in result["errors"][0]
    assert "keep backup.pvc_size at 10Gi" in result["errors"][0]


def test_an_unbound_backup_claim_is_recreated_at_its_new_size_in_either_direction():
    for live_size in ("10Gi", "30Gi"):
        live = {"alpha-postgresql-backup": claim("alpha-postgresql-backup", live_size, "local-path")}
        result = plan_claims("ns", BACKUP, live, EXPANDABLE)
        assert result == {"sizes": {"alpha-postgresql-backup": "20Gi"}, "resize": [], "recreate": ["alpha-postgresql-backup"],
                          "errors": []}


def test_an_unchanged_backup_claim_needs_nothing():
    live = {"alpha-postgresql-backup": bound("alpha-postgresql-backup", "20Gi", "local-path")}
    assert plan_claims("ns", BACKUP, live, EXPANDABLE)["resize"] == []
