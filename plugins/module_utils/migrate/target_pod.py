# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target pod a migration writes into: the single server's, or the Patroni cluster's leader at the run's start."""

from __future__ import annotations

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.errors import MigrationError
from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import run_process
from ansible_collections.stateshift.k3s.plugins.module_utils.pg.patroni_pods import selector_text


def leader_pod(cluster, ctx):
    """The pod that takes writes: the single server's, or the Patroni leader's (its role label) when ha: patroni."""
    if ctx.leader_selector is None:
        return ctx.objects["primary_pod"]
    selector = selector_text(ctx.leader_selector)
    completed = run_process(cluster("get", "pods", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}"),
                            what="kubectl get pods -l %s" % selector)
    leaders = completed.stdout.decode().split() if completed.returncode == 0 else []
    if len(leaders) != 1:
        raise MigrationError("the Patroni cluster %s/%s has %s pod labelled primary (%s): run the databases phase, whose "
                             "patroni_ready says what is wrong, then run this again"
                             % (ctx.namespace, ctx.objects["statefulset"], "no" if not leaders else "more than one",
                                completed.stderr.decode().strip()[-300:] if completed.returncode else ", ".join(leaders) or "-"),
                             "preflight")
    return leaders[0]
