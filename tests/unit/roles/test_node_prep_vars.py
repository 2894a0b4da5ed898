"""node_prep's variables per OS family: every family the role accepts has a file naming its NFS client and iSCSI
packages and the iSCSI service, as that family's package manager names them."""

from __future__ import annotations

from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "node_prep"
EXPECTED = {"Debian": (["nfs-common"], ["open-iscsi"]), "RedHat": (["nfs-utils"], ["iscsi-initiator-utils"]),
            "Suse": (["nfs-client"], ["open-iscsi"])}


def load(name):
    return yaml.safe_load((ROLE / "vars" / name).read_text())


def test_every_accepted_family_has_its_package_names():
    families = load("main.yml")["node_prep_families"]
    assert sorted(families) == sorted(EXPECTED)
    for family in families:
        names = load("%s.yml" % family)
        assert (names["node_prep_nfs_packages"], names["node_prep_iscsi_packages"]) == EXPECTED[family]
        assert names["node_prep_iscsi_service"] == "iscsid"


def test_no_family_file_is_left_over():
    files = {path.stem for path in (ROLE / "vars").glob("*.yml")} - {"main"}
    assert files == set(load("main.yml")["node_prep_families"])
