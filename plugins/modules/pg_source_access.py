#!/usr/bin/python
# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_source_access
short_description: Block writes on a workload's source PostgreSQL database for the cutover, or open it again
version_added: 0.2.0
description:
  - Runs on the controller (action plugin) for the source's Docker host, like M(stateshift.k3s.pg_migrate), and
    connects to the source database as the workload's C(source.user) (the migration user).
  - "O(state=blocked): C(REVOKE CONNECT) on the database from PUBLIC and from every non-superuser role that holds it,
    except the migration user (which is granted C(CONNECT) of its own when it only had it through PUBLIC);
    C(ALTER DATABASE .. SET default_transaction_read_only = on), so sessions of superusers (whom no ACL stops) are
    read-only; then every client session of the database is terminated (walsenders are not, so a logical replication
    subscription keeps streaming)."
  - "What the database had before (its ACL, the database-level C(default_transaction_read_only), the roles revoked)
    is recorded in the workload's migration marker ConfigMap C(<workload>-postgresql-migration), key
    C(<database>.source-access), before anything changes. O(state=open) grants C(CONNECT) back to exactly those
    roles (with their grant option), takes back the migration user's own grant, and puts the setting back
    (C(RESET) when it was not set)."
  - "Idempotent: blocking a blocked database or opening one that is open (or that this module never blocked) changes
    nothing. A call interrupted half-way is finished by a re-run with either state, from the record."
  - The migration user must be a superuser or the database's owner (refused before any change otherwise); to
    terminate other roles' sessions it needs to be a superuser or a member of C(pg_signal_backend).
author:
  - stateshift maintainers (@stateshift)
extends_documentation_fragment:
  - stateshift.k3s.k8s_connection
  - stateshift.k3s.kubectl
requirements:
  - kubectl and ssh on the controller.
options:
  workload:
    description:
      - The name of a PostgreSQL workload of the validated catalog (the fact C(stateshift_catalog) that
        M(stateshift.k3s.validate_catalog) sets).
    type: str
    required: true
  database:
    description: The source database; defaults to each of the workload's C(source.databases) in turn, else its
      C(source.database).
    type: str
  state:
    description: C(blocked) stops writes and sessions on the source database; C(open) restores what C(blocked) changed.
    type: str
    choices: [blocked, open]
    required: true
  side:
    description:
      - C(source) (the cutover) blocks the source container's database; C(target) blocks the StatefulSet's database the
        same way, which a rollback does before copying back, so that no session still open on the StatefulSet writes
        after the copy-back's snapshot. Each side's record is its own (C(<database>.source-access),
        C(<database>.target-access)).
    type: str
    choices: [source, target]
    default: source
attributes:
  check_mode:
    support: full
    description: Reads the database's ACL, setting and sessions and says what would change.
  diff_mode:
    support: full
    description: The database's state before and after.
notes:
  - A role setting (C(ALTER ROLE .. SET default_transaction_read_only = off)) overrides the database's; a superuser that
    has one could still write.
  - Other stateshift steps that must write the source while it is blocked (the reverse copy) set
    C(default_transaction_read_only = off) in their own sessions.
"""

EXAMPLES = r"""
- name: Stop writes on the source before the final sync
  stateshift.k3s.pg_source_access:
    workload: invoicetron
    state: blocked

- name: Rollback - let the applications write to the source again
  stateshift.k3s.pg_source_access:
    workload: invoicetron
    state: open
"""

RETURN = r"""
msg:
  description: What was done.
  returned: always
  type: str
  sample: "invoicetron/invoicetron: source database blocked"
state:
  description: The state the database is in (or would be, in check mode).
  returned: success
  type: str
  sample: blocked
previous:
  description: What C(open) restores - C(acl) (text, null for the default ACL), C(setting) (null when unset), C(revoked)
    (roles with their grant option), C(granted_to_user).
  returned: success
  type: dict
revoked:
  description: The roles (or PUBLIC) whose CONNECT is revoked while blocked.
  returned: success
  type: list
  elements: str
terminated:
  description: Client sessions terminated by this call.
  returned: success
  type: int
acl:
  description: The database's ACL (text) before and after this call.
  returned: success
  type: dict
setting:
  description: The database-level C(default_transaction_read_only) before and after this call (null when unset).
  returned: success
  type: dict
can_connect:
  description: Non-superuser login roles other than the migration user that can still connect.
  returned: success
  type: list
  elements: str
"""
