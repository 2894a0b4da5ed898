"""The collection builds into a tarball that installs and documents its plugins."""

from __future__ import annotations

import os
import subprocess

from .conftest import REPO


def test_built_tarball_installs_into_an_empty_path_and_lists_plugins(tmp_path):
    build = subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(tmp_path)],
                           cwd=REPO, capture_output=True, text=True, check=True)
    tarballs = list(tmp_path.glob("stateshift-k3s-*.tar.gz"))
    assert len(tarballs) == 1, build.stdout

    collections = tmp_path / "collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections))
    subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "-p", str(collections),
                    str(tarballs[0])], env=env, capture_output=True, text=True, check=True)
    installed = collections / "ansible_collections" / "stateshift" / "k3s"
    assert (installed / "MANIFEST.json").exists()
    assert not (installed / "tests" / "lab").exists(), "the lab is a test fixture, not part of the collection"

    listing = subprocess.run(["ansible-doc", "-l", "stateshift.k3s"], env=env, capture_output=True, text=True, check=True)
    assert "stateshift.k3s.pg_source_info" in listing.stdout

    doc = subprocess.run(["ansible-doc", "stateshift.k3s.pg_source_info"], env=env, capture_output=True, text=True,
                         check=True)
    assert "exact_counts" in doc.stdout
