# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One catalog field as schema.py declares it: path, type, default, choices, engines and rule."""

from __future__ import annotations

import copy

ENGINES = ("postgresql", "mongodb", "rabbitmq")
NO_DEFAULT = object()


class Field:
    """One catalog field. ``default`` is a value, or a function of the workload (``default_doc`` says which)."""

    def __init__(self, path, kind, doc, default=NO_DEFAULT, default_doc=None, required=None, choices=(), planned=(),
                 engines=ENGINES, rule=None, fix="", minimum=None, maximum=None, elements=None, shorthand=None,
                 not_built=None, normalize=None, nullable=False, no_log=False, removed=None):
        self.path, self.kind, self.doc = path, kind, doc
        self.default, self.default_doc = default, default_doc
        self.required = required  # the fix when the field is missing, or None when it may be left out
        self.choices, self.planned = choices, planned  # planned: recognised values whose feature is not built yet
        self.engines, self.rule, self.fix = engines, rule, fix
        self.minimum, self.maximum = minimum, maximum
        self.elements, self.shorthand = elements, shorthand  # shorthand: a string element x means {shorthand: x}
        self.not_built = not_built  # the feature that is missing: the field is refused when given
        self.normalize, self.nullable, self.no_log = normalize, nullable, no_log  # nullable: null is a value
        self.removed = removed  # (why the field is gone, what to do instead): the field is refused when given

    @property
    def refused(self):
        """Given, the field is an error: its feature is not built, or it was removed."""
        return bool(self.not_built or self.removed)

    @property
    def name(self):
        return self.path.rsplit(".", 1)[-1]

    @property
    def parent(self):
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""

    def default_for(self, workload):
        """The default filled in for ``workload`` (NO_DEFAULT when there is none)."""
        if callable(self.default):
            return self.default(workload)
        return copy.deepcopy(self.default)
