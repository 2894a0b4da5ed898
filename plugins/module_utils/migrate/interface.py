# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a database engine must provide so that the migration steps (steps/) can move its data.

The steps own the order of work, the safety rules and everything that is the same for every engine: the
marker ConfigMap, the backup file on the source host (name, .partial, sha256, free-space check), the
transport choice and the in-cluster Job, progress lines, the report files. An engine owns what only it
knows, and is built for one MigrationContext with its source side (sources.py) and its cluster (Kubectl):

 1. ``inspect()``            read-only facts and refusals (version, tools, unsupported objects); a Plan.
 2. ``snapshot()``           a context manager holding one consistent read view of the source; yields its id
                             (or None), which the backup, the copy and the source half of verification all read.
 3. ``backup_command(id)``   shell words, run on the source host, that write a restorable dump to stdout.
 4. ``settings()``/``tune()``/``untune(before)``  bulk-load settings on the target, always undone.
 5. ``copy_globals()``       users/roles; ``create_database(plan, globals)`` a fresh target database;
    ``copy_schema(id)`` the definitions without indexes, on the target; ``copy_table(transport, part, id)`` one
    part of ``plan_parts(plan)`` (a table, or a range of a large one), all or nothing, recorded on the target
    (``record_parts``/``recorded_parts``/``resumed_parts``/``forget_parts``) so that an interrupted copy resumes;
    ``copy_progress()`` rows seen so far per table in flight. Only the rows need the transport: everything before
    them runs while the Job's pod starts.
 6. ``copy_sequences(id)``   counters; ``build_indexes()`` indexes, constraints, statistics, on the target.
 7. ``verify_source(level, id)`` / ``verify_target(level)`` each side's half; ``compare(s, t, level)`` the
    report (``ok``, ``mismatches``, ``tables``, ...); ``markdown(report, title)`` for humans.
 8. ``reach_script(candidates)`` and ``job_sides(cluster, pod, address)``: how the Job's pod logs in to the
    source and the target (the ``job`` transport); ``source``/``target`` are the sides of the ``stream`` one.

Every method may raise sides.SideError (a program failed) or errors.MigrationError (a refusal).
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses


@dataclasses.dataclass
class Plan:
    """What preflight found. ``tables``: [{'key': 'schema.name', 'size_bytes': n, 'rows_estimate': n, ...}];
    ``source``: the engine's own facts about the source, handed back to it by create_database()."""

    tables: list
    source: dict
    source_version: str
    target_version: int
    target_exists: bool
    target_content: dict
    backup_bytes: int
    marker: dict = dataclasses.field(default_factory=dict)
    target_fingerprint: dict = dataclasses.field(default_factory=dict)
    resume: dict | None = None  # the record of the interrupted copy this run resumes (steps/resume.py)

    @property
    def data_bytes(self):
        return sum(table["size_bytes"] for table in self.tables)

    def target_objects(self):
        """What the target database holds, as {'relations': 3, ...} for the kinds it has any of."""
        return {kind: count for kind, count in self.target_content.items() if count}


def whole_table(table):
    """A table of the plan as one part (part None): emptied and loaded in one transaction."""
    return {"key": table["key"], "table": table, "part": None, "first_block": None, "end_block": None,
            "size_bytes": table["size_bytes"], "rows_estimate": table["rows_estimate"]}


class Engine(abc.ABC):
    """One database engine's half of a migration (see the module docstring)."""

    name = "engine"
    backup_suffix = ".dump"
    backup_format = "custom"
    unit = "tables"  # what the plan's tables are, in messages
    index_step = "indexes, constraints, analyze"  # what build_indexes does, in progress lines and timings
    job_transport = True  # False: the data always streams through the controller (migration.transport job is refused)
    source_side = None  # the SourceSide class of a container source (None: sources.DockerOverSsh)

    def __init__(self, ctx, source, cluster):
        self.ctx, self.source, self.cluster = ctx, source, cluster
        self.notes = []
        self.shared = {}  # what one task's engines of the same source share (databases.py): the copied globals

    def close(self):  # noqa: B027 - an engine that opened nothing has nothing to close
        """Release what the engine opened (called once the task is done with it)."""

    def quiet(self, streams):
        """A context in which the engine keeps no connection of its own open to the target while the copy runs ``streams``
        at once (when more than one)."""
        return contextlib.nullcontext()

    def for_database(self, name):
        """This engine's twin for another database of the same source, over the same sides, sharing ``shared``."""
        other = self.twin(dataclasses.replace(self.ctx, database=name))
        other.shared = self.shared
        return other

    def twin(self, ctx):
        return type(self)(ctx, self.source, self.cluster)

    def source_database_names(self):
        """Every database of the source server a migration could copy (source.databases: all)."""
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def target(self):
        """The side whose programs write the target (the stream transport's target)."""

    @abc.abstractmethod
    def inspect(self):
        """Read-only: return a Plan, or raise MigrationError naming what to fix."""

    @abc.abstractmethod
    def snapshot(self):
        """A context manager that yields the id of one consistent view of the source, held until it exits."""

    @abc.abstractmethod
    def backup_command(self, snapshot):
        """Shell words for the source host that write the dump of the snapshot to stdout."""

    @abc.abstractmethod
    def settings(self):
        """The target's values of the settings tune() changes, as they were before any run tuned them."""

    @abc.abstractmethod
    def tune(self):
        """Bulk-load settings on the target."""

    @abc.abstractmethod
    def untune(self, before):
        """Put back what settings() returned."""

    @abc.abstractmethod
    def copy_globals(self):
        """Users and roles; returns (what create_database needs, a summary without secrets)."""

    @abc.abstractmethod
    def create_database(self, plan, copied_globals):
        """A fresh, empty target database."""

    @abc.abstractmethod
    def copy_schema(self, snapshot, restore=True):
        """The definitions the data needs, without indexes (``restore=False``: only read them, for build_indexes).
        Runs before the transport is ready: it works through the target's own side."""

    def plan_parts(self, plan):
        """The units copy_table copies: [{'key', 'table', 'part', 'size_bytes', 'rows_estimate'}]; whole tables here."""
        return [whole_table(table) for table in plan.tables]

    def parts_digest(self, tables):
        """What must be unchanged on the source for an interrupted copy to resume; '' when it cannot resume."""
        return ""

    def record_parts(self, digest, parts):  # noqa: B027 - an engine that cannot resume records nothing
        """Start the target's record of which parts are in (each copy_table adds its part)."""

    def recorded_parts(self):
        """The record an interrupted run left on the target ({'digest', 'parts'}), or None."""
        return None

    def resumed_parts(self, plan, record):
        """The parts of the record that are not in yet."""
        raise NotImplementedError

    def forget_parts(self):  # noqa: B027 - nothing recorded, nothing to forget
        """Drop the record (every part is in)."""

    @abc.abstractmethod
    def copy_table(self, transport, part, snapshot):
        """One part of plan_parts() (or a whole table): all of it or nothing, added to the record (record_parts) by the
        transaction that writes it."""

    def copy_units(self, parts):
        """What the copy starts, each a list of parts copied by copy_tables_together (one part: copy_table)."""
        return [[part] for part in parts]

    def copy_tables_together(self, transport, parts, snapshot):
        """Several parts in one go (engines whose copy_units groups parts)."""
        raise NotImplementedError

    def recopy_table(self, transport, table, snapshot):
        """A table that already has its indexes and constraints, its rows replaced all at once or not at all."""
        raise NotImplementedError

    @abc.abstractmethod
    def copy_progress(self):
        """{table key: rows written so far} for the tables being copied."""

    def progress_text(self):
        """The copy so far in the engine's own words, for a copy not made of tables; None: tables, bytes, ETA."""
        return None

    @abc.abstractmethod
    def copy_sequences(self, snapshot):
        """Counters set to the source's positions."""

    @abc.abstractmethod
    def build_indexes(self):
        """Indexes, constraints and statistics, after the data, through the target's own side."""

    @abc.abstractmethod
    def verify_source(self, level, snapshot):
        """The source's half of the verification, read from the snapshot."""

    @abc.abstractmethod
    def verify_target(self, level):
        """The target's half of the verification."""

    @abc.abstractmethod
    def compare(self, source_half, target_half, level):
        """The verification report: {'ok', 'level', 'mismatches', 'tables', 'objects', 'sequences', 'totals'}."""

    @abc.abstractmethod
    def markdown(self, report, title):
        """The report as Markdown."""

    def remove_temporary(self):  # noqa: B027 - an engine without temporary files has nothing to do
        """Remove the files the copy left on the target's side (called on every path)."""

    def fingerprint(self):
        """What changes when anything writes to the target database (compared before a forced re-run drops it); {} if unknown."""
        return {}

    @abc.abstractmethod
    def reach_script(self, candidates):
        """A bash script for the Job's pod: prints the first 'host:port' of candidates it can log in to and exits 0,
        exits 3 (message on stderr) if it cannot log in to the target, else exits 1."""

    @abc.abstractmethod
    def job_sides(self, cluster, pod, address):
        """(source side, target side) of programs run in the Job's pod, the source reached at address."""
