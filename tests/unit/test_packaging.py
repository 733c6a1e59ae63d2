"""What each audience installs (image/pyproject.toml), checked on a wheel built from image/.

`pip install ./image` is the core and the `strip`/`inspect` commands, with no AWS library;
`[lambda]` is what the handler needs (and all the Lambda image installs); `[aws]` adds
what `worker`, `sync` and `redrive` need on a machine; `[parquet]` reads Parquet
inventories. The base install is checked by running the command where the AWS libraries
cannot be imported at all.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections import defaultdict
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tools.oracle import exiftool_report, findings
from tools.samples.ready_made import kitchen_sink

IMAGE = Path(__file__).resolve().parents[2] / "image"
AWS_LIBRARIES = ("boto3", "botocore", "aws_lambda_powertools", "tqdm", "pyarrow")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel of image/, built offline by the image's own build backend, from a copy of
    the sources (so no build/ or egg-info is left in the checkout)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "image"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(IMAGE / name, source / name)
    shutil.copytree(
        IMAGE / "src",
        source / "src",
        ignore=shutil.ignore_patterns("*.so", "*.egg-info", "__pycache__"),
    )
    build = (
        "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", build, str(work / "dist")],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    name = done.stdout.strip().splitlines()[-1]
    return zipfile.ZipFile(work / "dist" / name)


def metadata(wheel: zipfile.ZipFile) -> dict[str | None, set[str]]:
    """Requires-Dist by extra (None: the base install), as `name[extras]` strings."""
    [path] = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    headers = HeaderParser().parsestr(wheel.read(path).decode())
    extras = set(headers.get_all("Provides-Extra") or [])
    needs: dict[str | None, set[str]] = defaultdict(set)
    for line in headers.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        owners = [e for e in extras if marker.evaluate({"extra": e})] if marker else [None]
        name = requirement.name.lower() + (
            f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        )
        for owner in owners:
            needs[owner].add(name)
    assert set(needs) - {None} == extras
    return dict(needs)


def test_the_base_install_is_the_core_with_no_aws_library(wheel: zipfile.ZipFile) -> None:
    assert metadata(wheel)[None] == {"pillow", "zlib-ng"}


def test_the_extras_add_what_each_place_needs(wheel: zipfile.ZipFile) -> None:
    needs = metadata(wheel)
    assert needs["lambda"] == {"aws-lambda-powertools", "boto3"}
    assert needs["aws"] == {"exif-stripper[lambda]", "tqdm"}
    assert needs["parquet"] == {"pyarrow"}


def test_the_wheel_holds_every_layer_and_the_command(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for module in ("core/sanitize.py", "core/_scan.pyi", "aws/handler.py", "cli/__main__.py"):
        assert f"exif_stripper/{module}" in names, module
    assert "exif_stripper/py.typed" in names
    [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    assert "exif-stripper = exif_stripper.cli.main:main" in wheel.read(entry_points).decode()


def test_the_lambda_image_locks_the_lambda_extra_only() -> None:
    """image/requirements.lock (what the image installs) pins the handler's libraries and
    none of the tools'."""
    pinned = {
        line.split("==")[0].lower()
        for line in (IMAGE / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    assert {"aws-lambda-powertools", "boto3", "pillow", "zlib-ng"} <= pinned
    assert not pinned & {"tqdm", "pyarrow"}


# --- the base install, run -------------------------------------------------------------------

# Makes the AWS libraries unimportable, as on a machine where only `pip install ./image`
# ran: a meta path finder ahead of every other, loaded by Python's start-up (site).
BLOCKER = f"""
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {AWS_LIBRARIES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Absent())
"""


def base_install(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, env=env, timeout=120, check=False
    )


def test_the_blocker_blocks(tmp_path: Path) -> None:
    run = base_install(tmp_path, "-c", "import boto3")
    assert run.returncode == 1
    assert b"No module named 'boto3'" in run.stderr


def test_the_core_imports_without_the_aws_libraries(tmp_path: Path) -> None:
    every_module = (
        "import pkgutil, exif_stripper.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'exif_stripper.core.'):\n"
        "    __import__(m.name)\n"
        "print('imported')"
    )
    run = base_install(tmp_path, "-c", every_module)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout == b"imported\n"


def test_strip_and_inspect_run_without_the_aws_libraries(tmp_path: Path) -> None:
    photo = tmp_path / "in.jpg"
    photo.write_bytes(kitchen_sink(width=64, height=48))
    out = tmp_path / "out.jpg"
    strip = base_install(tmp_path, "-m", "exif_stripper.cli", "strip", str(photo), str(out))
    assert strip.returncode == 0, strip.stderr.decode()
    assert findings(exiftool_report(out.read_bytes())) == []
    inspect = base_install(tmp_path, "-m", "exif_stripper.cli", "inspect", str(photo))
    assert inspect.returncode == 0, inspect.stderr.decode()
    assert b"identifying data" in inspect.stdout


@pytest.mark.parametrize(
    "command", ["sync", "worker --queue-url http://queue", "redrive --from a --to b"]
)
def test_the_aws_commands_say_what_to_install(tmp_path: Path, command: str) -> None:
    env_buckets = ["--uploads", "a", "--web", "b"] if not command.startswith("redrive") else []
    run = base_install(tmp_path, "-m", "exif_stripper.cli", *command.split(), *env_buckets)
    assert run.returncode == 2
    [line] = run.stderr.decode().splitlines()
    assert line.startswith(f"exif-stripper: {command.split()[0]} needs the AWS libraries (")
    assert line.endswith("is missing): pip install 'exif-stripper[aws]'")
