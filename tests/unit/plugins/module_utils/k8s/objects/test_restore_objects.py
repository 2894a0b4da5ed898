"""The restore Job and the drill CronJob, built as data; a request that cannot be carried out is refused first."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects import restore

from .samples import SHOP, WIKI


def env_of(container):
    return {item["name"]: item.get("value") for item in container["env"]}


def test_a_restore_from_the_volume_reads_it_read_only_and_passes_the_request_as_environment():
    wiki = validate_catalog([WIKI])[0]
    job = restore.restore_job(wiki, "wiki-postgresql-restore-1", restore.check_request(wiki, {"before": "2026-12-01T04:00:00+01:00"}))
    pod = job["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert env_of(container)["DATABASE"] == "wiki" and env_of(container)["BEFORE"] == "20261201T030000Z"
    assert (env_of(container)["INTO"], env_of(container)["MODE"]) == ("stateshift_restore", "scratch")
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": "wiki-postgresql-backup", "readOnly": True}
    assert pod["metadata"]["labels"] == wiki["backup_labels"], "the NetworkPolicy admits the backup's pods only"
    assert job["spec"]["backoffLimit"] == 0 and "initContainers" not in pod["spec"]


def test_a_restore_from_the_bucket_downloads_the_chosen_backup_first():
    shop = validate_catalog([SHOP])[0]
    request = restore.check_request(shop, {"database": "reports", "source": "s3", "replace": True,
                                           "backup": "reports-20261202T080000Z.dump"})
    job = restore.restore_job(shop, "shop-postgresql-restore-1", request)
    download = job["spec"]["template"]["spec"]["initContainers"][0]
    assert download["image"] == "rclone/rclone:1.60"
    assert env_of(download)["BACKUP"] == "reports-20261202T080000Z.dump" and env_of(download)["S3_BUCKET"] == "shop-backups"
    assert env_of(job["spec"]["template"]["spec"]["containers"][0])["MODE"] == "replace"


@pytest.mark.parametrize("request_, problem", [
    ({"database": "nope"}, "database 'nope' is not one of workload shop's databases (shop, reports, audit)"),
    ({"into": "reports"}, "into 'reports' must be a new database name"),
    ({"before": "yesterday"}, "before 'yesterday' is not a time"),
    ({"backup": "audit-20261202T080000Z.dump"}, "backup 'audit-20261202T080000Z.dump' is not a backup of shop"),
    ({"source": "tape"}, "source 'tape' is not pvc or s3"),
])
def test_a_request_that_cannot_be_carried_out_is_refused(request_, problem):
    with pytest.raises(restore.RestoreRequestError) as caught:
        restore.check_request(validate_catalog([SHOP])[0], request_)
    assert problem in str(caught.value)


def test_s3_is_refused_without_backup_s3():
    with pytest.raises(restore.RestoreRequestError, match=r"has no backup\.s3"):
        restore.check_request(validate_catalog([WIKI])[0], {"source": "s3"})


def test_the_drill_restores_every_database_into_its_scratch_database_on_schedule():
    shop = validate_catalog([SHOP])[0]
    drill = restore.drill_cronjob(shop)
    container = drill["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert drill["spec"]["schedule"] == "0 6 * * 0" and drill["spec"]["concurrencyPolicy"] == "Forbid"
    assert env_of(container)["DATABASES"] == "shop reports audit" and env_of(container)["MODE"] == "drill"
    assert env_of(container)["INTO"] == "stateshift_drill"


def test_a_replace_without_a_choice_restores_the_newest_backup_before_it_started_and_keeps_the_database():
    shop = validate_catalog([SHOP])[0]
    now = datetime(2026, 12, 2, 14, 30, 5, tzinfo=timezone.utc)
    request = restore.check_request(shop, {"replace": True}, now=now)
    assert request["before"] == "20261202T143005Z", "the replace's own backup, taken after, must not be the one restored"
    assert request["keep_as"] == "shop_before_20261202t143005z"
    named = restore.check_request(shop, {"replace": True, "backup": "shop-20261201T080000Z.dump"}, now=now)
    assert named["before"] == "" and named["backup"] == "shop-20261201T080000Z.dump"
    long_name = dict(SHOP, databases=["d" * 63])
    kept = restore.check_request(validate_catalog([long_name])[0], {"replace": True}, now=now)["keep_as"]
    assert len(kept) == 63 and kept.endswith("_before_20261202t143005z")
    assert restore.check_request(shop, {}, now=now)["keep_as"] == ""
