# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ledger keeps of a final sync or a copy-back result: facts, never a value of the data or a secret."""

from __future__ import annotations

KEPT = ("mode", "changed", "verified", "final_lsn", "source_version", "target_version", "totals", "fingerprint", "backup",
        "msg", "skipped")


def sync_record(result):
    """The ledger's record of a pg_final_sync / pg_copy_back task result (a skipped task records that it was skipped)."""
    result = result or {}
    record = {key: result[key] for key in KEPT if key in result}
    if "databases" in result:  # a task over several databases of the source (source.databases)
        record["databases"] = {name: sync_record(one) for name, one in result["databases"].items()}
        return record
    tables = result.get("tables") or (result.get("report") or {}).get("tables") or []
    record["tables"] = [{key: table.get(key) for key in ("name", "rows", "checksum") if key in table} for table in tables
                        if isinstance(table, dict)]
    return record
