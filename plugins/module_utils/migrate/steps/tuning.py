# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 5's frame: bulk-load settings on the target for the copy, put back whatever happens.

What the target held before is recorded in the marker, so a run killed before it could put the settings
back is followed by one that restores the original values, not the tuned ones.
"""

from __future__ import annotations

import contextlib

from ansible_collections.stateshift.k3s.plugins.module_utils.migrate.steps import marker


def settings_before(engine, previous_marker):
    """The target's settings before any run tuned them: an interrupted run recorded them in its marker."""
    if previous_marker.get("state") == marker.COPYING and isinstance(previous_marker.get("settings_before"), dict):
        return previous_marker["settings_before"]
    return engine.settings()


@contextlib.contextmanager
def tuned(engine, before, notes=None):
    """A failure to put the settings back is the run's error after a good copy, a note after a failed one (whose own error
    is what the user must see; the next run puts the settings back from the marker)."""
    engine.tune()
    try:
        yield
    except BaseException:
        try:
            engine.untune(before)
        except Exception as exc:  # the copy's error is raised below
            (notes if notes is not None else engine.notes).append("the restore settings were not put back (%s): the next run "
                                                                  "restores them" % exc)
        raise
    engine.untune(before)
