"""The GitHub Actions workflows keep the promises the README makes about deployment.

zizmor and check-jsonschema (pre-commit) check the workflows' security and shape; these
tests check what is ours to decide: how the image travels to Terragrunt, which jobs may
assume an AWS role, and that every tool is the same version wherever it is installed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
TOOLBOX = ROOT / ".ci" / "toolbox"
IMAGE_URI_VARIABLE = "EXIF_IMAGE_URI"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return dict(document)


def workflow(name: str) -> dict[str, Any]:
    return load(WORKFLOWS / name)


def all_steps() -> list[tuple[Path, dict[str, Any]]]:
    found: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in load(path)["jobs"].values():
            found += [(path, step) for step in job.get("steps", [])]
    return found


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(f"{action}@")]


def test_every_action_is_pinned_by_commit_sha_with_its_version_noted() -> None:
    for path, step in all_steps():
        uses = step.get("uses")
        if uses is None:
            continue
        assert PINNED.match(uses), f"{path.name}: {uses} is not pinned by a full commit SHA"
        line = next(line for line in path.read_text().splitlines() if uses in line)
        assert re.search(r"#\s*v\d+\.\d+\.\d+", line), f"{path.name}: note the version of {uses}"


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_workflows_grant_nothing_by_default_and_each_job_its_own(name: str) -> None:
    document = workflow(name)
    assert document["permissions"] == {}
    for job_name, job in document["jobs"].items():
        assert "permissions" in job, f"{name}: job {job_name} declares no permissions"
        assert job["permissions"].get("contents") in ("read", None)


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_only_jobs_that_assume_an_aws_role_get_an_oidc_token(name: str) -> None:
    for job_name, job in workflow(name)["jobs"].items():
        assumes_role = bool(steps_using(job, "aws-actions/configure-aws-credentials"))
        wants_token = job["permissions"].get("id-token") == "write"
        assert assumes_role == wants_token, f"{name}: job {job_name}"


def test_checkouts_do_not_leave_the_token_behind() -> None:
    for path, step in all_steps():
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, path.name


def test_no_static_aws_keys_anywhere() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "aws-access-key-id" not in text, path.name
        assert "AWS_SECRET_ACCESS_KEY" not in text, path.name


def test_terragrunt_is_driven_the_terragrunt_1_way() -> None:
    """`run --all` and `hcl fmt` (Terragrunt 1.x); `run-all` was removed in 0.90."""
    scripts = [(path.name, step.get("run", "")) for path, step in all_steps()]
    scripts.append(("toolbox.sh", (TOOLBOX / "toolbox.sh").read_text()))
    invocations = 0
    for name, script in scripts:
        assert "run-all" not in script, name
        # A command at the start of a line: `terragrunt`, `exec terragrunt`, `"$dir/terragrunt"`
        command = r'^[ \t]*(?:exec[ \t]+)?(?:"[^"\n]*/)?terragrunt"?[ \t]+([^\n|;&]+)'
        for arguments in re.findall(command, script, flags=re.MULTILINE):
            invocations += 1
            assert arguments.startswith(("run --all ", "hcl fmt ", "--version")), (
                f"{name}: terragrunt {arguments}"
            )
    assert invocations


def test_the_image_is_built_for_lambda_and_pushed_by_commit() -> None:
    job = workflow("deploy.yml")["jobs"]["image"]
    (build,) = steps_using(job, "docker/build-push-action")
    settings = build["with"]
    assert settings["provenance"] is False
    assert settings["push"] is True
    assert settings["tags"].endswith(":${{ github.sha }}")
    assert settings["platforms"] == "${{ env.IMAGE_PLATFORM }}"
    assert workflow("deploy.yml")["env"]["IMAGE_PLATFORM"] in ("linux/arm64", "linux/amd64")
    assert "steps.build.outputs.digest" in str(job["steps"])


def test_dev_then_prod_apply_the_pushed_digest() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    assert jobs["dev"]["needs"] == "image"
    assert set(jobs["prod"]["needs"]) == {"image", "dev"}
    assert jobs["prod"]["environment"] == "production"
    for name, env in (("dev", "live/dev"), ("prod", "live/prod")):
        (apply,) = [step for step in jobs[name]["steps"] if "run --all" in step.get("run", "")]
        assert apply["run"].strip() == "terragrunt run --all apply"
        assert apply["working-directory"] == env
        assert apply["env"][IMAGE_URI_VARIABLE] == "${{ needs.image.outputs.uri }}"
        assert apply["env"]["TG_NON_INTERACTIVE"] == "true"


def test_pull_requests_get_a_plan_of_dev() -> None:
    job = workflow("ci.yml")["jobs"]["plan"]
    (plan,) = [step for step in job["steps"] if "terragrunt run --all plan" in step.get("run", "")]
    assert plan["working-directory"] == "live/dev"
    assert IMAGE_URI_VARIABLE in plan["env"]
    assert job["env"]["TG_NON_INTERACTIVE"] == "true"


def test_ci_runs_make_test_with_terraform() -> None:
    job = workflow("ci.yml")["jobs"]["test"]
    assert any(step.get("run") == "make test" for step in job["steps"])
    assert steps_using(job, "hashicorp/setup-terraform")
    assert steps_using(job, "actions/setup-python")


def pinned_tools() -> dict[str, str]:
    """.ci/toolbox/versions.env: the one place that pins Terraform, Terragrunt and the AWS CLI."""
    pins: dict[str, str] = {}
    for line in (TOOLBOX / "versions.env").read_text().splitlines():
        name, equals, value = line.partition("=")
        if equals and not line.startswith("#"):
            pins[name] = value
    return pins


def test_every_pinned_tool_has_a_checksum_per_architecture() -> None:
    pins = pinned_tools()
    for tool in ("TERRAFORM", "TERRAGRUNT", "AWSCLI"):
        assert re.fullmatch(r"\d+\.\d+\.\d+", pins[f"{tool}_VERSION"]), tool
        for arch in ("AMD64", "ARM64"):
            assert re.fullmatch(r"[0-9a-f]{64}", pins[f"{tool}_SHA256_{arch}"]), f"{tool} {arch}"


def test_workflows_use_the_pinned_terraform() -> None:
    for name in ("ci.yml", "deploy.yml"):
        assert workflow(name)["env"]["TERRAFORM_VERSION"] == pinned_tools()["TERRAFORM_VERSION"]


def test_workflows_install_terragrunt_through_the_checksum_check() -> None:
    for name in ("ci.yml", "deploy.yml"):
        for job_name, job in workflow(name)["jobs"].items():
            runs = " ".join(step.get("run", "") for step in job["steps"])
            if "terragrunt " in runs:
                assert "sudo .ci/toolbox/fetch-tools.sh /usr/local/bin terragrunt" in runs, (
                    f"{name}: job {job_name} runs terragrunt without installing the pinned one"
                )
