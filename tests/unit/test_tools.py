"""tests/ holds tests and their fixtures only; what users run lives in tools/ (issue 10).

Every command a user types or a machine runs for them (a Makefile recipe, the compose
services, the toolbox and the hooks in .ci/, the GitHub workflows, the README's shell
blocks) names tools/ or the product, never a module or file under tests/; the only
commands that reach into tests/ are pytest's. Every tools module imports, and every
`python -m tools.<name>` those commands run is a module that exists.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import tools

ROOT = Path(__file__).resolve().parents[2]
#: `tests/...` as a path or `tests.x` as a module, not `pytest` nor `make test-unit`.
UNDER_TESTS = re.compile(r"(?<![\w./-])tests[./]\w")
PYTHON_MODULE = re.compile(r"python3? -m (tools(?:\.\w+)+)")
SHELL_FENCE = re.compile(r"^```(?:sh|bash|shell|console)\n(.*?)^```", re.M | re.S)


def makefile_recipes() -> Iterator[tuple[str, str]]:
    """(target, recipe line) for every recipe line of the Makefile."""
    target = ""
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("\t"):
            yield target, line.strip()
        elif match := re.match(r"^([\w$().-]+):", line):
            target = match.group(1)


def yaml_strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from yaml_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from yaml_strings(value)


def shell_lines(path: Path) -> Iterator[str]:
    """A script's lines without its comments (a usage text is what the script says it runs)."""
    for line in path.read_text().splitlines():
        if not line.lstrip().startswith("#"):
            yield line


def user_commands() -> Iterator[tuple[str, str]]:
    """(where, command) for everything that runs without being a test."""
    for target, line in makefile_recipes():
        if "pytest" not in line:
            yield f"Makefile {target}", line
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service, spec in compose["services"].items():
        for key in ("entrypoint", "command", "environment"):
            for text in yaml_strings(spec.get(key)):
                yield f"docker-compose.yml {service}.{key}", text
    for path in sorted((ROOT / ".ci").rglob("*")):
        if path.is_file() and path.suffix in ("", ".sh", ".py") and not path.name.startswith("."):
            for line in shell_lines(path):
                yield str(path.relative_to(ROOT)), line
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if "run" in step:
                    yield f"{path.name} {step.get('name', '')}", step["run"]
    for block in SHELL_FENCE.findall((ROOT / "README.md").read_text()):
        for line in block.splitlines():
            yield "README.md", line


COMMANDS = list(user_commands())


def test_the_commands_are_found() -> None:
    """The scan sees what it must judge: the Makefile's tools, compose's smoke test."""
    text = "\n".join(command for _, command in COMMANDS)
    for expected in ("python -m tools.demo", "toolbox", "make test", "tools.smoke"):
        assert expected in text, expected


def test_no_user_command_runs_anything_under_tests() -> None:
    offenders = [(where, line) for where, line in COMMANDS if UNDER_TESTS.search(line)]
    assert offenders == []


def test_the_check_catches_a_module_or_file_under_tests() -> None:
    assert UNDER_TESTS.search("$(RUN)/python -m tests.unit.demo")
    assert UNDER_TESTS.search("python tests/integration/smoke.py --env dev")
    assert not UNDER_TESTS.search("$(RUN)/pytest -m integration && make test-unit")


def test_every_tools_module_a_command_runs_exists() -> None:
    named = {m for _, line in COMMANDS for m in PYTHON_MODULE.findall(line)}
    assert "tools.demo" in named
    for name in sorted(named):
        assert importlib.util.find_spec(name) is not None, name


TOOLS_MODULES = sorted(
    module.name for module in pkgutil.walk_packages(tools.__path__, prefix="tools.")
)
# moto_server runs as a script (EmbeddedAws starts it with its folder as sys.path[0]).
SCRIPTS = {"tools.embedded_aws.moto_server"}
# atheris is installed on Linux x86_64 only (pyproject's dev group).
NEEDS = {"tools.fuzz.atheris_target": "atheris"}


@pytest.mark.parametrize("name", TOOLS_MODULES)
def test_every_tools_module_imports_and_says_what_it_is(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    if name in SCRIPTS:
        monkeypatch.syspath_prepend(str(ROOT / Path(*name.split(".")[:-1])))
    module = importlib.import_module(name)
    assert (module.__doc__ or "").strip(), f"{name} opens without a docstring"


def test_the_tools_are_grouped_by_job() -> None:
    """tests/ has no helpers left: only test files, conftest.py and fixtures."""
    helpers = [
        path.relative_to(ROOT)
        for path in (ROOT / "tests").rglob("*.py")
        if not path.name.startswith("test_") and path.name not in ("conftest.py", "__init__.py")
    ]
    assert helpers == []
    jobs = {"demo", "smoke", "oracle", "samples", "embedded_aws", "terraform", "bench", "chaos"}
    assert jobs | {"fuzz"} <= {module.name for module in pkgutil.iter_modules(tools.__path__)}
