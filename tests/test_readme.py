"""The commands of the README and of docs/ exist and start: every ``python3 X.py``,
``python3 -m pkg.mod`` and ``make X`` in their fenced code blocks names a real script, module
or Makefile target; each distinct script / module (and sub-command) answers ``--help`` with
exit status 0; every ``--option`` a command uses is one that ``--help`` lists; every
``key=value`` given to a script that reads configs is a real config key. The pictures they
show exist and are small, and the pages they link to exist.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass

import pytest
from conftest import ROOT

from configs import KEYS

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
PYTHONS = ("python3", "python", ".venv/bin/python")
CONFIG_SCRIPTS = ("train.py", "infer.py", "infer_jpgs.py")  # they take key=value overrides
HELP_TIMEOUT_S = 120


@dataclass(frozen=True)
class Command:
    """A command line from the README: ``target`` is ``X.py``, ``-m pkg.mod`` or ``make``."""

    line: str
    target: str
    args: tuple[str, ...]


def fenced_blocks(markdown: str) -> list[str]:
    """The contents of the ``` fenced code blocks."""
    return re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.S | re.M)


def logical_lines(block: str) -> list[str]:
    """Lines with ``\\`` continuations joined and ``#`` comments dropped."""
    text = re.sub(r"\\\n", " ", block)
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _tokens(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:  # an unbalanced quote in a synopsis line: split on spaces
        return line.split()


def parse_command(line: str) -> Command | None:
    """The command on ``line``, or None when it runs none of ours (``cd``, ``pip``, ...)."""
    tokens = _tokens(line)
    if tokens[:1] == ["make"] and len(tokens) >= 2:
        return Command(line, "make", tuple(tokens[1:]))
    if tokens[:1] == ["torchrun"]:  # torchrun [its options] script.py ...
        scripts = [k for k, t in enumerate(tokens) if t.endswith(".py")]
        if scripts:
            return Command(line, tokens[scripts[0]], tuple(tokens[scripts[0] + 1:]))
    if tokens[:1] and tokens[0] in PYTHONS and len(tokens) >= 2:
        if tokens[1] == "-m" and len(tokens) >= 3:
            if tokens[2] == "pytest":
                return None  # not ours
            return Command(line, f"-m {tokens[2]}", tuple(tokens[3:]))
        if tokens[1].endswith(".py"):
            return Command(line, tokens[1], tuple(tokens[2:]))
    return None


def readme_commands() -> list[Command]:
    """The commands of the README and of every page in docs/."""
    commands = []
    text = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    for block in fenced_blocks(text):
        for line in logical_lines(block):
            command = parse_command(line)
            if command is not None:
                commands.append(command)
    return commands


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {m.group(1) for m in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M)}


def target_exists(target: str) -> bool:
    if target.startswith("-m "):
        module = target[3:].split(".")
        base = ROOT.joinpath(*module)
        return base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()
    return (ROOT / target).is_file()


def subcommand(help_text: str, args: tuple[str, ...]) -> str | None:
    """The first argument when the usage line offers sub-commands ``{a,b,c}`` and it is one."""
    choices = re.search(r"^usage:.*?\{([\w,-]+)\}", help_text, flags=re.S | re.M)
    if choices and args and args[0] in choices.group(1).split(","):
        return args[0]
    return None


def options_used(args: tuple[str, ...]) -> set[str]:
    """``--name`` tokens, also inside ``[--name VALUE]`` synopsis brackets."""
    found = set()
    for token in args:
        for m in re.finditer(r"(?<![\w-])(--[a-z][\w-]*)", token):
            found.add(m.group(1))
    return found


@dataclass(frozen=True)
class HelpResult:
    returncode: int
    stdout: str
    stderr: str


def run_helps(argvs: list[list[str]]) -> list[HelpResult]:
    """``--help`` of each argv, all at once (each start mostly waits on imports)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, *argv, "--help"], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for argv in argvs]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=HELP_TIMEOUT_S)
        results.append(HelpResult(proc.returncode, out, err))
    return results


def _argv(target: str) -> list[str]:
    return target.split() if target.startswith("-m ") else [target]


@pytest.fixture(scope="module")
def help_texts() -> dict[tuple[str, str | None], HelpResult]:
    """``--help`` of every README script / module, and of every sub-command the README uses."""
    targets = sorted({c.target for c in readme_commands() if c.target != "make"})
    found = dict(zip(((t, None) for t in targets), run_helps([_argv(t) for t in targets])))
    subs = sorted({(c.target, sub) for c in readme_commands() if c.target != "make"
                   for sub in [subcommand(found[(c.target, None)].stdout, c.args)] if sub})
    found.update(zip(subs, run_helps([[*_argv(t), sub] for t, sub in subs])))
    return found


# --- the parsing itself -------------------------------------------------------------------

def test_parser_finds_commands_in_fences_only():
    markdown = ("Text `python3 nothere.py` inline.\n```\n# comment\n"
                "python3 train.py segm img_size=64  # note\n"
                "python3 -m prepare images \\\n  --src a --out b\nmake test\npip install x\n```\n")
    lines = [ln for b in fenced_blocks(markdown) for ln in logical_lines(b)]
    commands = [parse_command(ln) for ln in lines]
    assert [c.target for c in commands if c] == ["train.py", "-m prepare", "make"]
    assert commands[1].args == ("images", "--src", "a", "--out", "b")
    assert options_used(("[--input", "PATH]", "[--segm-weights", "FILE]", "key=value")) == {
        "--input", "--segm-weights"}


def test_readme_has_commands():
    commands = readme_commands()
    targets = {c.target for c in commands}
    assert {"train.py", "infer.py", "make"} <= targets, targets


# --- the README's commands ----------------------------------------------------------------

def test_every_script_module_and_make_target_exists():
    targets = make_targets()
    for command in readme_commands():
        if command.target == "make":
            assert command.args[0] in targets, f"README: no Makefile target for: {command.line}"
        else:
            assert target_exists(command.target), f"README: no such script or module: {command.line}"


def test_config_overrides_are_real_keys():
    for command in readme_commands():
        if command.target not in CONFIG_SCRIPTS:
            continue
        for token in command.args:
            m = re.fullmatch(r"([a-z_][a-z0-9_]*)=.*", token)
            if m and token != "key=value":
                assert m.group(1) in KEYS, f"README: unknown config key '{m.group(1)}' in: {command.line}"


def test_pictures_exist_and_are_small():
    """Every image a page shows is in the repository and under 300 kB."""
    for page in PAGES:
        for picture in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            path = page.parent / picture
            assert path.is_file(), f"{page.name} shows {picture}, which is not in the repository"
            assert path.stat().st_size < 300_000, f"{picture} is {path.stat().st_size} bytes"


def test_linked_pages_exist():
    for page in PAGES:
        links = re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s#]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
        for target in links:
            assert (page.parent / target).is_file(), f"{page.name} links to {target}, which does not exist"


def _distinct_targets() -> list[str]:
    return sorted({c.target for c in readme_commands() if c.target != "make"})


@pytest.mark.parametrize("target", _distinct_targets())
def test_help_works_and_lists_the_options_used(target, help_texts):
    top = help_texts[(target, None)]
    assert top.returncode == 0, f"{target} --help failed:\n{top.stderr[-2000:]}"
    for command in (c for c in readme_commands() if c.target == target):
        sub = subcommand(top.stdout, command.args)
        shown = help_texts[(target, sub)]
        assert shown.returncode == 0, f"{target} {sub} --help failed:\n{shown.stderr[-2000:]}"
        listed = options_used(tuple(shown.stdout.split()))
        for option in options_used(command.args) - {"--help"}:
            assert option in listed, (
                f"README uses {option}, which '{target}{' ' + sub if sub else ''} --help' "
                f"does not list: {command.line}")
