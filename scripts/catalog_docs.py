# Copyright: stateshift maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write what is made from the catalog schema: docs/catalog.md's tables and the roles' workload options.

    python scripts/catalog_docs.py           # rewrite the generated parts
    python scripts/catalog_docs.py --check   # exit 1, naming the stale files, when one is out of date
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "catalog.md"


def _import_path():
    """Make ansible_collections.stateshift.k3s importable: from the lab's collections path, or a link to this repository."""
    configured = os.environ.get("STATESHIFT_COLLECTIONS")
    if configured and (Path(configured) / "ansible_collections" / "stateshift" / "k3s").exists():
        return configured
    if REPO.parent.name == "stateshift" and REPO.parent.parent.name == "ansible_collections":
        return str(REPO.parent.parent.parent)
    root = Path(tempfile.mkdtemp(prefix="stateshift-collections-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    (root / "ansible_collections" / "stateshift").mkdir(parents=True)
    (root / "ansible_collections" / "stateshift" / "k3s").symlink_to(REPO)
    return str(root)


def wanted_files():
    """{path: the text it should have} for every file with a generated part."""
    from ansible_collections.stateshift.k3s.plugins.module_utils.catalog import argspec, docs  # noqa: PLC0415

    files = {DOCS: docs.replace_generated(DOCS.read_text(), docs.render())}
    options = argspec.workload_options()
    for role, option in argspec.WORKLOAD_OPTIONS.items():
        path = REPO / "roles" / role / "meta" / "argument_specs.yml"
        files[path] = argspec.replace_options(path.read_text(), option, options)
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the generated parts are current")
    check = parser.parse_args(argv).check
    sys.path.insert(0, _import_path())
    stale = [path for path, text in wanted_files().items() if path.read_text() != text]
    if check:
        for path in stale:
            print("%s is out of date with plugins/module_utils/catalog/schema.py: run python scripts/catalog_docs.py"
                  % path.relative_to(REPO), file=sys.stderr)
        return 1 if stale else 0
    for path, text in wanted_files().items():
        if path in stale:
            path.write_text(text)
            print("wrote %s" % path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
