"""Write the provider lock file (``.terraform.lock.hcl``) of every Terragrunt unit in live/.

Terragrunt copies a unit's lock file into its working copy before ``terraform init`` and
back afterwards, so the file committed next to ``live/<env>/<unit>/terragrunt.hcl`` decides
which provider build every plan and apply of that unit uses, with checksums that init
verifies. Each module is locked once, in a scratch copy, and the same file is written to
its unit in every environment: dev and prod cannot resolve different builds.

    python -m tools.terraform.provider_locks            # offline, from the provider mirror
    python -m tools.terraform.provider_locks --online   # the registry, for every platform

Offline, the hashes are the ones this machine can compute: ``h1:`` of each platform the
mirror holds (``terraform providers lock -fs-mirror``). Online, Terraform adds the
registry's hashes of every platform named (``zh:`` of each package, ``h1:`` of each
platform): run it, or ``make provider-locks-online``, on a machine with internet access
before the first apply from another platform. Existing hashes are kept when the version
does not change, so either run only adds. Reference:
https://developer.hashicorp.com/terraform/cli/commands/providers/lock
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tools.terraform.cli_config import (
    REPO_ROOT,
    REQUIRED_PROVIDER,
    default_mirror_candidates,
    find_provider_mirror,
    terraform_env,
    terraform_platform,
    write_cli_config,
)

LIVE = REPO_ROOT / "live"
MODULES = REPO_ROOT / "modules"
LOCK_FILE = ".terraform.lock.hcl"
# Where the function and its developers run: CI's runners, Linux and macOS laptops.
ONLINE_PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64")
# `path = "${dirname(find_in_parent_folders("root.hcl"))}/_units/<unit>.hcl"` and
# `source = "${dirname(find_in_parent_folders("root.hcl"))}/../modules//<module>"`.
_INCLUDE = re.compile(r'/_units/([a-z0-9-]+)\.hcl"')
_SOURCE = re.compile(r'source\s*=.*/modules//([a-z0-9-]+)"')


def unit_modules() -> dict[Path, str]:
    """Every unit directory of live/ and the module its definition (live/_units/<unit>.hcl,
    which the unit includes) names as its ``source``."""
    units: dict[Path, str] = {}
    for config in sorted(LIVE.glob("*/*/terragrunt.hcl")):
        included = _INCLUDE.search(config.read_text())
        if included is None:
            raise SystemExit(f"{config.relative_to(REPO_ROOT)}: includes no live/_units/<unit>.hcl")
        definition = LIVE / "_units" / f"{included[1]}.hcl"
        match = _SOURCE.search(definition.read_text())
        if match is None:
            raise SystemExit(f"{definition.relative_to(REPO_ROOT)}: no .../modules//<name> source")
        units[config.parent] = match[1]
    return units


def lock_module(module: str, units: Sequence[Path], lock_args: Sequence[str]) -> str:
    """The lock file of ``module``, computed in a scratch copy that starts from the units'
    current lock (so existing hashes are kept), written to every unit in ``units``."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / module
        shutil.copytree(MODULES / module, copy, ignore=shutil.ignore_patterns(".terraform*"))
        current = next((unit / LOCK_FILE for unit in units if (unit / LOCK_FILE).is_file()), None)
        if current is not None:
            shutil.copyfile(current, copy / LOCK_FILE)
        command = ["terraform", f"-chdir={copy}", "providers", "lock", *lock_args]
        # The repository's CLI configuration, as every Terraform command here runs with
        # (`providers lock` itself only reads the mirror or registry its flags name).
        env = terraform_env(write_cli_config())
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        text = (copy / LOCK_FILE).read_text()
    for unit in units:
        (unit / LOCK_FILE).write_text(text)
    return text


def mirror_platforms(mirror: Path) -> list[str]:
    """The platforms ``mirror`` holds the aws provider for, in either mirror layout: unpacked
    ``<addr>/<version>/<platform>/`` or packed ``<addr>/<name>_<version>_<platform>.zip``."""
    provider = mirror / REQUIRED_PROVIDER
    unpacked = {path.name for path in provider.glob("*/*") if path.is_dir()}
    packed = {
        "_".join(path.stem.split("_")[-2:]) for path in provider.glob("terraform-provider-*.zip")
    }
    return sorted(unpacked | packed)


def offline_lock_args() -> list[str]:
    """``-fs-mirror`` and every platform this machine's provider mirror holds."""
    mirror = find_provider_mirror(
        os.environ, default_mirror_candidates(Path.home()), terraform_platform()
    )
    if mirror is None:
        raise SystemExit("no provider mirror on this machine: run with --online instead")
    return [f"-fs-mirror={mirror}", *(f"-platform={p}" for p in mirror_platforms(mirror))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--online", action="store_true", help="use the registry (needs internet access)"
    )
    parser.add_argument(
        "--platform",
        action="append",
        help=f"with --online: a platform to add (default: {' '.join(ONLINE_PLATFORMS)})",
    )
    args = parser.parse_args(argv)
    if args.online:
        lock_args = [f"-platform={p}" for p in args.platform or ONLINE_PLATFORMS]
    elif args.platform:
        parser.error("--platform needs --online; offline, the mirror's platforms are locked")
    else:
        lock_args = offline_lock_args()

    by_module: dict[str, list[Path]] = {}
    for unit, module in unit_modules().items():
        by_module.setdefault(module, []).append(unit)
    for module, units in sorted(by_module.items()):
        lock_module(module, units, lock_args)
        names = ", ".join(str(unit.relative_to(REPO_ROOT)) for unit in units)
        print(f"{module}: {LOCK_FILE} written to {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
