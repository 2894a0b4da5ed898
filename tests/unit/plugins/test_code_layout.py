"""The layout rules of plugins/: module_utils lives in subpackages, files stay small, functions short."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
MODULE_UTILS = PLUGINS / "module_utils"
MAX_MODULE_UTILS_LINES = 300
MAX_FUNCTION_LINES = 60
SUBPACKAGES = {"catalog", "k8s", "pg", "migrate", "secrets", "cutover", "rabbitmq", "mongodb", "storage", "retire"}


def python_files(root):
    return sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def test_module_utils_files_live_in_subpackages():
    loose = [path.name for path in MODULE_UTILS.glob("*.py") if path.name != "__init__.py"]
    assert loose == [], "module_utils files outside a subpackage: %s" % loose
    packages = {path.name for path in MODULE_UTILS.iterdir() if path.is_dir() and path.name != "__pycache__"}
    assert packages == SUBPACKAGES


def test_no_module_utils_file_is_over_the_limit():
    too_long = {str(path.relative_to(PLUGINS)): count for path in python_files(MODULE_UTILS)
                if (count := len(path.read_text().splitlines())) > MAX_MODULE_UTILS_LINES}
    assert too_long == {}


def test_no_function_is_over_the_limit():
    too_long = {}
    for path in python_files(PLUGINS):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long["%s:%s" % (path.relative_to(PLUGINS), node.name)] = length
    assert too_long == {}


def test_every_module_that_takes_the_cluster_connection_is_in_the_k8s_action_group():
    runtime = yaml.safe_load((PLUGINS.parent / "meta" / "runtime.yml").read_text())
    connected = {path.stem for path in (PLUGINS / "modules").glob("*.py") if "stateshift.k3s.k8s_connection" in path.read_text()}
    assert connected - {name for name in runtime["action_groups"]["k8s"] if isinstance(name, str)} == set()
