# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 6: counters (sequences) set to the positions they have in the snapshot."""

from __future__ import annotations


def copy(run, engine, snapshot):
    run.timed("sequences", engine.copy_sequences, snapshot)
