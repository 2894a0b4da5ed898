# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 7: indexes, constraints and triggers built after the data (in parallel), then fresh planner statistics."""

from __future__ import annotations


def build(run, engine):
    run.timed(engine.index_step, engine.build_indexes)
