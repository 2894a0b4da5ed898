# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the retire phase reads from the two servers: the source's client sessions over a window, the target's primary."""

from __future__ import annotations

import time

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.sides import SideError

# Every client session but this one. A role without pg_read_all_stats sees other roles' sessions with most columns
# NULL (backend_type too), so a session is a row with a user that is not a known non-client backend.
SESSIONS_SQL = """
SELECT coalesce(json_agg(json_build_object('pid', a.pid, 'user', a.usename, 'database', a.datname,
         'address', CASE WHEN a.client_addr IS NOT NULL THEN host(a.client_addr)
                         WHEN a.backend_start IS NOT NULL THEN 'a local socket' ELSE 'an address hidden from ' || current_user END,
         'application', a.application_name) ORDER BY a.pid), '[]')
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid() AND a.usename IS NOT NULL AND coalesce(a.backend_type, 'client backend') = 'client backend'
"""

PRIMARY_SQL = "SELECT json_build_object('recovery', pg_is_in_recovery())"


def source_sessions(engine, seconds, interval=1.0, clock=time.monotonic, sleep=time.sleep):
    """One list of sessions per look, a look every ``interval`` seconds for ``seconds``; the error's text when the source
    stops answering."""
    samples, deadline = [], clock() + seconds
    try:
        while True:
            samples.append(engine.source_json(SESSIONS_SQL, what="the source's sessions"))
            left = deadline - clock()
            if left <= 0:
                return samples
            sleep(min(interval, left))
    except (SideError, ValueError) as exc:
        return str(exc)


def target_primary(engine):
    """The target primary's ``{"recovery": bool}``, or the error's text when it does not answer."""
    try:
        return engine.target_json(PRIMARY_SQL, "postgres", what="the StatefulSet's primary")
    except (SideError, ValueError) as exc:
        return str(exc)
