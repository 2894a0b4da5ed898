"""The objects of sample workloads, held as golden data (STATESHIFT_UPDATE_GOLDEN=1 rewrites it after an intended change)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ansible_collections.stateshift.k3s.plugins.module_utils.catalog.validate import validate_catalog
from ansible_collections.stateshift.k3s.plugins.module_utils.k8s.objects.postgresql import postgresql_objects

from .samples import SHOP, WIKI

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("sample", [SHOP, WIKI], ids=lambda sample: sample["name"])
def test_the_objects_are_the_golden_ones(sample):
    workload = validate_catalog([sample])[0]
    built = postgresql_objects(workload, uid=999, claim_size="3Gi", backup_claim_size="4Gi",
                               namespace_labels={"pod-security.kubernetes.io/audit": "restricted"})
    path = GOLDEN / ("postgresql-%s.json" % sample["name"])
    if os.environ.get("STATESHIFT_UPDATE_GOLDEN"):
        path.write_text(json.dumps(built, indent=2, sort_keys=True) + "\n")
    assert built == json.loads(path.read_text())
