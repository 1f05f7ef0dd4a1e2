"""The shape of the code: imports point one way (the import-linter contracts in
pyproject.toml), importing a package has no side effects, and the repository stands alone."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGES = ("benchmarks", "configs", "core", "datasets", "demos", "faces", "inference", "losses", "metrics",
            "webapp", "modelfiles", "models", "prepare", "stages", "trainers")
SCRIPTS = ("train.py", "infer.py", "infer_jpgs.py", "demo.py", "app.py", "export.py")


def python_files() -> list[Path]:
    files = [ROOT / s for s in (*SCRIPTS, "cli.py")]
    for package in PACKAGES:
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def test_import_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_cli_imports_nothing_of_the_project():
    """The scripts' start-up must work before the .venv switch: only the standard library."""
    tree = ast.parse((ROOT / "cli.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {*PACKAGES, "cli"}, imported


def test_only_the_scripts_switch_interpreters():
    """No library module reads the command line or re-executes Python: only the scripts do
    (the top-level ones, ``benchmarks/``, and ``python3 -m prepare``'s ``__main__``)."""
    for path in python_files():
        if path.parent in (ROOT, ROOT / "benchmarks") or path.name == "__main__.py":
            continue
        text = path.read_text()
        assert "os.execv" not in text and "use_project_venv" not in text, path
        assert "sys.argv" not in text, path


def test_the_repository_stands_alone():
    pattern = re.compile(r"DESIGN\.md|issue [0-9]")
    files = [*python_files(), *ROOT.glob("*.md"), *ROOT.glob("docs/*.md")]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in files
                 for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, offenders


def test_readme_is_the_short_way_in():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300


MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60


def test_files_and_functions_stay_short():
    """A reader takes in one module, and one function, at a time: no library or script file over
    300 lines and no function over 60 (from its ``def`` to its last line). Tests and benchmarks
    (run by hand, one table each) are exempt."""
    long_files, long_functions = [], []
    for path in python_files():
        text = path.read_text()
        where = path.relative_to(ROOT)
        if where.parts[0] == "benchmarks":
            continue
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(f"{where}: {len(text.splitlines())}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{where}:{node.lineno} {node.name}: {length}")
    assert not long_files, long_files
    assert not long_functions, long_functions
