# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shell line that hands a password to MongoDB's database tools: a YAML ``--config`` file holding it (single-quoted,
quotes doubled), so it is on no argv. The caller makes the file private (mktemp, or umask 077) and removes it."""

from __future__ import annotations


def password_config(variable, path):
    """Shell words writing ``password: '<$variable>'`` to ``path`` (both shell expressions, e.g. ("PASSWORD", '"$config"'))."""
    return """printf "password: '%%s'\\n" "$(printf %%s "$%s" | sed "s/'/''/g")" > %s""" % (variable, path)
