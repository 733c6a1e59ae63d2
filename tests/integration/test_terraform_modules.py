"""Every Terraform file is formatted and every module validates (with the generated CLI
configuration, so it works offline against the provider mirror)."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tools.terraform.cli_config import REPO_ROOT, terraform_env
from tools.terraform.stack import scratch_copy

pytestmark = pytest.mark.integration

MODULES = sorted(p.name for p in (REPO_ROOT / "modules").iterdir() if (p / "main.tf").is_file())
# The applied test stack; plan-only fixtures (access_keys_without_pgp) are planned below.
STACKS = ["tools/terraform/exif_stack"]
ROOTS = [f"modules/{name}" for name in MODULES] + STACKS


def terraform(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def init(cwd: Path, env: dict[str, str]) -> str:
    """``terraform init -backend=false``; its output when it fails, "" when it succeeds."""
    result = terraform(["init", "-backend=false", "-input=false", "-no-color"], cwd, env)
    return "" if result.returncode == 0 else result.stdout + result.stderr


def validate(cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """``terraform validate -json`` of an initialised root."""
    result = terraform(["validate", "-json", "-no-color"], cwd, env)
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def validations(
    terraform_cli_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Every root initialised, one after the other (Terraform's plugin cache is not safe
    for concurrent installs), then validated two at a time (loading the aws provider's
    schema takes seconds of CPU, and CI has two cores). Terraform runs in a scratch copy
    with its data directory outside it, so nothing lands in the working tree."""
    base = tmp_path_factory.mktemp("validate")
    source = scratch_copy(base / "src", "modules", *STACKS)
    envs = {}
    for root in ROOTS:
        envs[root] = terraform_env(terraform_cli_config)
        envs[root]["TF_DATA_DIR"] = str(base / "data" / root.replace("/", "_"))
    reports: dict[str, dict[str, Any]] = {}
    for root in ROOTS:
        error = init(source / root, envs[root])
        if error:
            reports[root] = {"valid": False, "init_error": error}
    pending = [root for root in ROOTS if root not in reports]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda root: validate(source / root, envs[root]), pending)
        reports.update(zip(pending, results, strict=True))
    return reports


def test_every_module_and_test_stack_is_found() -> None:
    assert {"buckets", "iam-users", "exif-lambda", "ecr"} <= set(MODULES)
    assert all((REPO_ROOT / stack / "main.tf").is_file() for stack in STACKS)


def test_terraform_files_are_formatted(terraform_cli_config: Path) -> None:
    result = terraform(
        ["fmt", "-check", "-recursive", "-diff", "-no-color", "modules", "tests/terraform"],
        REPO_ROOT,
        terraform_env(terraform_cli_config),
    )
    assert result.returncode == 0, (
        f"run `terraform fmt -recursive`:\n{result.stdout}{result.stderr}"
    )


@pytest.mark.parametrize("root", ROOTS)
def test_module_validates_without_errors_or_warnings(
    root: str, validations: dict[str, dict[str, Any]]
) -> None:
    report = validations[root]
    assert report.get("valid") is True, report
    # Warnings matter too: deprecated arguments are how provider 6.x announces removals.
    assert report.get("warning_count") == 0, report["diagnostics"]


def test_access_keys_without_a_pgp_key_fail_the_plan(
    terraform_cli_config: Path, tmp_path: Path
) -> None:
    # docs/design.md "Access: keys and state": access keys never reach the state in plain text by
    # default.
    fixture = "tests/terraform/access_keys_without_pgp"
    root = scratch_copy(tmp_path / "src", "modules", fixture) / fixture
    env = terraform_env(terraform_cli_config)
    env["TF_DATA_DIR"] = str(tmp_path / "data")
    init = terraform(["init", "-backend=false", "-input=false", "-no-color"], root, env)
    assert init.returncode == 0, init.stdout + init.stderr
    plan = terraform(
        ["plan", "-input=false", "-no-color", "-lock=false", f"-state={tmp_path / 'none.tfstate'}"],
        root,
        env,
    )
    assert plan.returncode != 0
    assert "create_access_keys = true requires pgp_key" in plan.stdout + plan.stderr
