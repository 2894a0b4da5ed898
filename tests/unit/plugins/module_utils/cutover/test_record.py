from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover.record import sync_record

ONE = {"changed": True, "verified": True, "final_lsn": "0/16B3748", "msg": "inv/inv: in sync", "password": "never kept",
       "report": {"tables": [{"name": "public.items", "rows": 5, "checksum": "x", "source_checksum": "x"}]}}


def test_a_result_keeps_its_facts_and_its_tables_names_rows_and_checksums_only():
    record = sync_record(ONE)
    assert record == {"changed": True, "verified": True, "final_lsn": "0/16B3748", "msg": "inv/inv: in sync",
                      "tables": [{"name": "public.items", "rows": 5, "checksum": "x"}]}


def test_a_result_over_several_databases_keeps_each_ones_record():
    record = sync_record({"changed": True, "msg": "a; b", "databases": {"inv": ONE, "inv_reports": dict(ONE, changed=False)}})
    assert record["msg"] == "a; b" and set(record["databases"]) == {"inv", "inv_reports"}
    assert record["databases"]["inv_reports"]["changed"] is False
    assert record["databases"]["inv"]["tables"] == [{"name": "public.items", "rows": 5, "checksum": "x"}]
    assert "password" not in str(record)


def test_a_skipped_task_records_that_it_was_skipped():
    assert sync_record({"skipped": True, "changed": False}) == {"skipped": True, "changed": False, "tables": []}
