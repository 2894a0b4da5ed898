# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for values derived from secrets: pg_conn_url, pg_scram_sha256, rabbitmq_password_hash."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.stateshift.k3s.plugins.module_utils.secrets import derived as derived_values


def _wrap(function, name):
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (TypeError, ValueError, RuntimeError) as exc:
            # Never echo the arguments: the first one is a secret.
            raise AnsibleFilterError("%s: %s" % (name, exc)) from None

    run.__name__ = name
    return run


class FilterModule:
    def filters(self):
        return {
            "pg_conn_url": _wrap(derived_values.pg_conn_url, "pg_conn_url"),
            "pg_scram_sha256": _wrap(derived_values.pg_scram_sha256, "pg_scram_sha256"),
            "rabbitmq_password_hash": _wrap(derived_values.rabbitmq_password_hash, "rabbitmq_password_hash"),
        }
