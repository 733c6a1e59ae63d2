"""The Lambda image (image/Dockerfile) agrees with the package it ships.

No Docker engine is needed: the Dockerfile is read as text and the handler module as an
AST, so a wrong CMD, an unpinned base image or a stale lock file fails here, not at deploy.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "image"
DOCKERFILE = IMAGE / "Dockerfile"
PACKAGE_ROOT = IMAGE / "src"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    return result


def stages(dockerfile: Path) -> list[tuple[str, str | None]]:
    """(image, stage name) for each FROM."""
    found: list[tuple[str, str | None]] = []
    for keyword, arguments in instructions(dockerfile):
        if keyword == "FROM":
            words = [word for word in arguments.split() if not word.startswith("--platform")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append((words[0], name))
    return found


def handler_path() -> str:
    commands = [arguments for keyword, arguments in instructions(DOCKERFILE) if keyword == "CMD"]
    assert commands, "image/Dockerfile has no CMD"
    command = json.loads(commands[-1])  # exec form: a JSON array
    assert isinstance(command, list), f"CMD should be in exec form: {commands[-1]}"
    assert len(command) == 1, f"CMD should name the handler alone: {command}"
    return str(command[0])


def test_every_base_image_is_pinned_by_digest() -> None:
    names = {name for _, name in stages(DOCKERFILE) if name}
    external = [image for image, _ in stages(DOCKERFILE) if image not in names]
    assert external, "no FROM in image/Dockerfile"
    for image in external:
        assert DIGEST.search(image), f"{image} is not pinned by digest"


def test_the_base_image_is_the_aws_lambda_python_image() -> None:
    base = stages(DOCKERFILE)[0][0]
    assert re.match(r"public\.ecr\.aws/lambda/python:3\.1[23]@sha256:", base), base


def test_the_final_stage_builds_on_the_pinned_base() -> None:
    names = {name for _, name in stages(DOCKERFILE) if name}
    final_image, final_name = stages(DOCKERFILE)[-1]
    assert final_name is None
    assert final_image in names, "the final stage should start from the named, pinned base stage"


def test_cmd_names_a_module_and_a_function() -> None:
    module, _, function = handler_path().rpartition(".")
    assert module == "exif_stripper.aws.handler"
    assert function == "lambda_handler"


def test_the_handler_module_defines_the_handler() -> None:
    """The module the image's CMD names defines the function it names."""
    module, _, function = handler_path().rpartition(".")
    source = PACKAGE_ROOT.joinpath(*module.split(".")).with_suffix(".py")
    assert source.is_file(), f"CMD names {module}, but {source.relative_to(ROOT)} does not exist"
    tree = ast.parse(source.read_text(), filename=str(source))
    defined = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    } | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert function in defined, f"{module} defines no top-level {function}"


def test_the_image_installs_the_locked_dependencies_with_hashes() -> None:
    text = DOCKERFILE.read_text()
    assert "--require-hashes" in text
    assert "-r requirements.lock" in text
    lock = (IMAGE / "requirements.lock").read_text()
    # One block per requirement: its `name==version` line and the indented lines under it.
    requirements = [block for block in re.split(r"\n(?=\S)", lock) if not block.startswith("#")]
    assert requirements, "image/requirements.lock pins nothing"
    for block in requirements:
        first = block.splitlines()[0]
        assert "==" in first, first
        assert "--hash=sha256:" in block, f"no hash for {first}"


@pytest.mark.timeout(120)
def test_the_requirements_lock_matches_uv_lock(tmp_path: Path) -> None:
    """`make requirements-lock` regenerates image/requirements.lock from uv.lock (offline)."""
    regenerated = tmp_path / "requirements.lock"
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "requirements-lock",
            f"REQUIREMENTS_LOCK={regenerated}",
        ],
        cwd=ROOT,
        check=True,
    )
    committed = (IMAGE / "requirements.lock").read_text()
    assert regenerated.read_text() == committed, (
        "image/requirements.lock is out of date with uv.lock: run `make requirements-lock`"
    )


def test_the_build_lock_satisfies_the_packages_build_system() -> None:
    """The builder stage builds without build isolation, from image/build-requirements.lock."""
    pyproject = tomllib.loads((IMAGE / "pyproject.toml").read_text())
    pinned = dict(
        re.findall(
            r"^([A-Za-z0-9_.-]+)==(\S+)", (IMAGE / "build-requirements.lock").read_text(), re.M
        )
    )
    for requirement in map(Requirement, pyproject["build-system"]["requires"]):
        version = pinned.get(requirement.name)
        assert version, f"{requirement.name} is not in image/build-requirements.lock"
        assert requirement.specifier.contains(version), (
            f"{requirement} is not met by {version}: run `make build-requirements-lock`"
        )


def test_the_locks_are_resolved_for_the_images_python() -> None:
    python = re.search(r"lambda/python:(3\.\d+)@", stages(DOCKERFILE)[0][0])
    assert python
    makefile = (ROOT / "Makefile").read_text()
    assert f"--python-version {python.group(1)}" in makefile
