# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a source database with the target's copy, read-only (see plugins/modules/pg_compare.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.engine import Migration, write_report
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.request import COMMON_SPEC, source_host_ssh
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=COMMON_SPEC)
        host = task_vars.get("inventory_hostname", "localhost") if task_vars else "localhost"
        try:
            with source_host_ssh(args, self._connection, host) as ssh:
                comparison = Migration(args, ssh=ssh)
                report = comparison.verify()
        except SideError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        report.update(workload=args["workload"], database=args["database"], source=comparison.source.label,
                      target=comparison.target.label)
        files = write_report(report, args.get("report_dir"), "%s-%s-compare" % (args["workload"], args["database"]))
        label = "%s/%s" % (args["workload"], args["database"])
        if report["ok"]:
            msg = "%s: %d tables, %s rows: source and target match (%s)" % (
                label, report["totals"]["tables"], report["totals"]["rows_source"], report["level"])
        else:
            msg = "%s: %d mismatch(es): %s" % (label, len(report["mismatches"]), "; ".join(report["mismatches"][:5]))
        result.update(changed=False, failed=not report["ok"], msg=msg, report=report, report_files=files)
        if report["ok"]:
            display.display("[%s] %s" % (host, msg))
        return result
