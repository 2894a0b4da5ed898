"""The demo's report, rendered from a ledger and a migration marker as the phases write them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_report.py"
spec = importlib.util.spec_from_file_location("demo_report", SCRIPT)
demo_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo_report)

LEDGER = {
    "state": "retired",
    "cutover": {"cutover_finished_at": "2026-12-03T19:30:05.250000Z", "final_sync": {"verified": True, "databases": {
        "invoicetron": {"tables": [{"name": "public.invoices", "rows": 31000, "checksum": "a1"},
                                   {"name": "public.customers", "rows": 295, "checksum": "b2"}]},
        "invoicetron_reports": {"tables": [{"name": "public.monthly", "rows": 12, "checksum": "c3"}]}}}},
    "retire": {"containers": ["invoicetron-app", "invoicetron-db"],
               "archives": [{"volume": "invoicetron_pgdata", "path": "/var/backups/stateshift/retired/invoicetron-invoicetron_pgdata.tar",
                             "bytes": 50 << 20, "sha256": "3f2a" * 16}],
               "gates": [{"name": "soak period"}, {"name": "no clients"}]},
}
MARKER = {"invoicetron.source-access": {"state": "blocked", "at": "2026-12-03T19:30:01.000000Z"},
          "invoicetron_reports.source-access": {"state": "blocked", "at": "2026-12-03T19:30:02.000000Z"},
          "invoicetron.state": {"state": "verified"}}


def test_the_report_says_what_moved_how_long_writes_stopped_and_what_was_retired():
    text = demo_report.render("invoicetron", LEDGER, MARKER, [["migrate", "12"], ["retire", "20"]], 185)
    assert text.splitlines()[0] == "== invoicetron: the whole journey in 3 min 5 s, ledger state retired =="
    assert "  migrate                          12" in text
    assert "copied, then verified again at the cutover (checksums match):" in text
    assert "  invoicetron              2 tables     31,295 rows, 2 checksums compared" in text
    assert "  invoicetron_reports      1 tables         12 rows, 1 checksums compared" in text
    assert "writes stopped for 4.0 s at the cutover (source blocked 2026-12-03T19:30:01.000000Z" in text
    assert "retired: invoicetron-app, invoicetron-db (stopped, restart policy no)" in text
    assert "invoicetron-invoicetron_pgdata.tar, 50.0 MiB, sha256 3f2a3f2a3f2a3f2a" in text
    assert "after these gates passed: soak period, no clients" in text


def test_an_unverified_sync_and_a_journey_not_retired_say_so():
    ledger = {"state": "cut_over", "cutover": {"final_sync": {"verified": False, "tables": [{"name": "t", "rows": 1}]}}}
    text = demo_report.render("shop", ledger, {}, [], 30)
    assert "(NOT verified)" in text and "  shop                     1 tables          1 rows, 0 checksums compared" in text
    assert "retired" not in text and "writes stopped" not in text


def provisioner(name, server, path):
    return {"spec": {"template": {"spec": {
        "containers": [{"env": [{"name": "PROVISIONER_NAME", "value": name}, {"name": "NFS_SERVER", "value": server}]}],
        "volumes": [{"name": "nfs-client-root", "nfs": {"server": server, "path": path}}]}}}}


def test_the_storage_phase_s_classes_are_listed_with_the_export_their_provisioner_mounts():
    classes = [{"metadata": {"name": "nfs-lab", "labels": {"app.kubernetes.io/managed-by": "stateshift"}},
                "provisioner": "stateshift.k3s/nfs-lab-nfs", "reclaimPolicy": "Retain"},
               {"metadata": {"name": "local-path"}, "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete"},
               {"metadata": {"name": "orphan", "labels": {"app.kubernetes.io/managed-by": "stateshift"}},
                "provisioner": "stateshift.k3s/nfs-gone", "reclaimPolicy": "Retain"}]
    storage = demo_report.nfs_classes(classes, [provisioner("stateshift.k3s/nfs-lab-nfs", "172.18.0.5", "/srv/k3s")])
    assert storage == [{"name": "nfs-lab", "reclaim": "Retain", "server": "172.18.0.5", "path": "/srv/k3s"}]
    text = demo_report.render("invoicetron", LEDGER, MARKER, [], 60, storage, ["local-path", "local-path"])
    assert "storage: StorageClass nfs-lab (reclaim Retain) on NFS 172.18.0.5:/srv/k3s, export checked" in text
    assert "  invoicetron's volumes use: local-path" in text
    assert "storage:" not in demo_report.render("invoicetron", LEDGER, MARKER, [], 60, [], ["local-path"])
