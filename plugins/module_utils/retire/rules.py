# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The temporary network rules of ``cutover.remove_rules`` that are still there when the source is retired (put back by
hand, or by a rollback and a cutover that failed before the switch), removed for good (module retire_rules)."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.cutover import switch


def leftover(cluster, workload):
    """The switch plan that removes what is left: its ``rules`` and ``changes`` are empty when nothing is."""
    plan = switch.Plan("target")
    for rule in workload["cutover"]["remove_rules"]:
        switch.plan_rule_removal(cluster, rule, plan)
    return plan


def remove(cluster, plan):
    """Apply ``plan`` (the cluster does nothing in check mode); returns the ledger records of the rules removed."""
    for policy, key, specs, _record in plan.rules:
        cluster.replace(switch.reduced_policy(policy, key, specs))
    return [record for *_rest, record in plan.rules]
