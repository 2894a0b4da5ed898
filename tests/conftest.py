"""Shared pytest set-up: make `ansible_collections.stateshift.k3s` importable, and real servers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _collections_root():
    configured = os.environ.get("STATESHIFT_COLLECTIONS")
    if configured and (Path(configured) / "ansible_collections" / "stateshift" / "k3s").exists():
        return configured
    if REPO.parent.name == "stateshift" and REPO.parent.parent.name == "ansible_collections":
        return str(REPO.parent.parent.parent)
    raise RuntimeError("stateshift.k3s is not on a collections path: run the tests with 'make unit' or 'make test'")


sys.path.insert(0, _collections_root())

pytest_plugins = ["tests.fixtures.postgres"]
