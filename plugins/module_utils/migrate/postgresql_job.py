# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL engine's half of the Job transport: how the migration pod reaches both servers."""

from __future__ import annotations

import re
import shlex

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import WorkerSide, run_process

TARGET_ADMIT_SECONDS = 30


class JobSides:
    """Mixed into PostgresEngine (postgresql.py), which sets ``_target_host`` to None."""

    def worker_network_env(self):
        """The Job's pod runs the target's image: its libpq is the workload's major version."""
        major = re.match(r"\d+", self.ctx.version)
        return self.ctx.source.network_env(int(major.group()) if major else None)

    def reach_script(self, candidates):
        user = self.source.user
        settings = " ".join("%s=%s" % (name, shlex.quote(value)) for name, value in sorted(self.worker_network_env().items()))
        tries = []
        for host, port in candidates:
            env = "PGHOST=%s PGPORT=%d PGUSER=%s %s PGPASSWORD=\"$SRC_PASSWORD\" PGCONNECT_TIMEOUT=5" % (
                shlex.quote(host), port, shlex.quote(user), settings)
            tries.append("if %s psql -X -A -t -d %s -c 'SELECT 1' >/dev/null 2>&1; then echo %s; exit 0; fi"
                         % (env, shlex.quote(self.ctx.database), shlex.quote("%s:%d" % (host, port))))
        # the target's NetworkPolicy admits the Job's pods by label, which its policy engine applies to a new pod's
        # address only after the pod started: a refusal is tried again for TARGET_ADMIT_SECONDS
        target_check = ("deadline=$((SECONDS + %d))\n"
                        "until err=$(PGHOST=%s PGUSER=%s PGPASSWORD=\"$TGT_PASSWORD\" PGCONNECT_TIMEOUT=5 psql -X -A -t -d postgres "
                        "-c 'SELECT 1' 2>&1 >/dev/null); do\n"
                        "  if [ \"$SECONDS\" -ge \"$deadline\" ]; then printf '%%s\\n' \"$err\" >&2; exit 3; fi\n"
                        "  sleep 0.5\n"
                        "done" % (TARGET_ADMIT_SECONDS, shlex.quote(self.target_host()), shlex.quote(self.ctx.auth_user)))
        return target_check + "\n" + "\n".join(tries) + "\nexit 1"

    def job_sides(self, cluster, pod, address):
        return (WorkerSide(cluster, pod, "SRC", address[0], address[1], self.source.user, self.worker_network_env()),
                WorkerSide(cluster, pod, "TGT", self.target_host(), 5432, self.ctx.auth_user))

    def target_host(self):
        """The target Service's cluster IP, so the Job's pod needs no DNS lookup (a busy cluster's DNS can time out
        in the middle of a copy); the Service's name if the IP cannot be read."""
        if self._target_host is None:
            service = self.ctx.objects["service"]
            completed = run_process(self.cluster("get", "service", service, "-o", "jsonpath={.spec.clusterIP}"),
                                    what="kubectl get service %s" % service)
            address = completed.stdout.decode().strip() if completed.returncode == 0 else ""
            self._target_host = address if re.fullmatch(r"[0-9a-fA-F.:]+", address) else service
        return self._target_host
