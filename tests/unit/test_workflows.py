"""The GitHub Actions workflows keep the promises the README makes about deployment.

zizmor and check-jsonschema (pre-commit) check the workflows' security and shape; these
tests check what is ours to decide: how the image travels to Terragrunt (built once in dev's
account, copied by digest into prod's), which jobs may assume an AWS role, what the toolbox
asks for before it runs Terragrunt, and that every tool is the same version wherever it is
installed. The promotion step and the toolbox run here, with stand-ins for aws, docker and
terragrunt.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
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
    """`run [--all]` and `hcl fmt` (Terragrunt 1.x); `run-all` was removed in 0.90."""
    scripts = [(path.name, step.get("run", "")) for path, step in all_steps()]
    scripts.append(("toolbox.sh", (TOOLBOX / "toolbox.sh").read_text()))
    invocations = 0
    for name, script in scripts:
        assert "run-all" not in script, name
        # A command at the start of a line: `terragrunt`, `exec terragrunt`, `"$dir/terragrunt"`
        command = r'^[ \t]*(?:exec[ \t]+)?(?:"[^"\n]*/)?terragrunt"?[ \t]+([^\n|;&]+)'
        for arguments in re.findall(command, script, flags=re.MULTILINE):
            invocations += 1
            assert arguments.startswith(("run ", "hcl fmt ", "--version")), (
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
    assert job["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"


# --- deployment: built once into dev's account, promoted by digest into prod's -----------------

# What the prod job may do in dev's account: read an image, nothing else.
ECR_READ_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
}


def deploy_job(name: str) -> dict[str, Any]:
    return dict(workflow("deploy.yml")["jobs"][name])


def apply_step(job: dict[str, Any]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = job["steps"]
    (apply,) = [step for step in steps if "run --all" in step.get("run", "")]
    return apply


def step_index(job: dict[str, Any], step: dict[str, Any]) -> int:
    """The position of a step (found by identity: two steps may be equal)."""
    return [id(candidate) for candidate in job["steps"]].index(id(step))


def promote_step(job: dict[str, Any]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = job["steps"]
    (promote,) = [step for step in steps if step.get("id") == "promote"]
    return promote


def test_dev_then_prod_apply_with_terragrunt_run_all() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    assert jobs["dev"]["needs"] == "image"
    assert set(jobs["prod"]["needs"]) == {"image", "dev"}
    assert jobs["dev"]["environment"] == "development"
    assert jobs["prod"]["environment"] == "production"
    for name, env in (("dev", "live/dev"), ("prod", "live/prod")):
        apply = apply_step(jobs[name])
        assert apply["run"].strip() == "terragrunt run --all apply"
        assert apply["working-directory"] == env
        assert apply["env"]["TG_NON_INTERACTIVE"] == "true"


def test_dev_applies_the_image_it_was_built_with() -> None:
    apply = apply_step(deploy_job("dev"))
    assert apply["env"][IMAGE_URI_VARIABLE] == "${{ needs.image.outputs.uri }}"


def test_prod_applies_the_copy_in_its_own_repository_after_making_it() -> None:
    job = deploy_job("prod")
    apply, promote = apply_step(job), promote_step(job)
    assert apply["env"][IMAGE_URI_VARIABLE] == "${{ steps.promote.outputs.uri }}"
    assert step_index(job, promote) < step_index(job, apply)


def test_prod_copies_the_built_manifest_and_does_not_rebuild() -> None:
    job = deploy_job("prod")
    promote = promote_step(job)
    assert promote["env"]["SOURCE_IMAGE"] == "${{ needs.image.outputs.uri }}"
    assert promote["env"]["DIGEST"] == "${{ needs.image.outputs.digest }}"
    # A single manifest as the one source: without --prefer-index=false, buildx would wrap it
    # in a new index with a digest of its own.
    assert "docker buildx imagetools create --prefer-index=false" in promote["run"]
    assert not steps_using(job, "docker/build-push-action")
    assert not steps_using(job, "docker/setup-qemu-action")


def test_prod_reads_dev_with_a_pull_only_session_and_applies_with_its_own_role() -> None:
    job = deploy_job("prod")
    logins = steps_using(job, "aws-actions/configure-aws-credentials")
    assert [login["with"]["role-to-assume"] for login in logins] == [
        "${{ vars.AWS_IMAGE_ROLE_ARN }}",  # dev's account: read the image
        "${{ vars.AWS_DEPLOY_ROLE_ARN }}",  # production environment: push the copy, apply
    ]
    policy = json.loads(logins[0]["with"]["inline-session-policy"])
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert actions <= ECR_READ_ACTIONS
    # A docker login to each registry, each after the credentials of its account.
    registries = steps_using(job, "aws-actions/amazon-ecr-login")
    assert len(registries) == 2
    steps = [step_index(job, step) for step in (logins[0], registries[0], logins[1])]
    steps += [step_index(job, registries[1]), step_index(job, promote_step(job))]
    steps.append(step_index(job, apply_step(job)))
    assert steps == sorted(steps)
    assert promote_step(job)["env"]["REGISTRY"] == (
        f"${{{{ steps.{registries[1]['id']}.outputs.registry }}}}"
    )


# The promotion script itself, run with stand-ins for `aws` (prod's repository: the digest
# its tag holds, in a file) and `docker` (the copy: writes the digest the registry ends up with).
FAKE_AWS = """#!/usr/bin/env bash
echo "$*" >> "${FAKE_ECR}/aws.log"
if [[ -f "${FAKE_ECR}/digest" ]]; then cat "${FAKE_ECR}/digest"; exit 0; fi
echo "An error occurred (ImageNotFoundException) when calling DescribeImages" >&2
exit 254
"""
FAKE_DOCKER = """#!/usr/bin/env bash
echo "$*" >> "${FAKE_ECR}/docker.log"
printf '%s\\n' "${FAKE_COPIED_DIGEST}" > "${FAKE_ECR}/digest"
"""
BUILT = "sha256:" + "3f" * 32
DEV_IMAGE = f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/exif-stripper@{BUILT}"
PROD_REGISTRY = "222222222222.dkr.ecr.eu-west-1.amazonaws.com"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def promote(
    tmp_path: Path, *, copied: str = BUILT, in_prod: str | None = None, source: str = DEV_IMAGE
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run the prod job's promote step; its outputs by name."""
    fake = tmp_path / "ecr"
    bin_dir = tmp_path / "bin"
    fake.mkdir()
    bin_dir.mkdir()
    for name, text in (("aws", FAKE_AWS), ("docker", FAKE_DOCKER)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    if in_prod is not None:
        (fake / "digest").write_text(in_prod + "\n")
    script = tmp_path / "promote.sh"
    script.write_text(promote_step(deploy_job("prod"))["run"])
    outputs = tmp_path / "github_output"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_ECR": str(fake),
        "FAKE_COPIED_DIGEST": copied,
        "GITHUB_SHA": COMMIT,
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "SOURCE_IMAGE": source,
        "DIGEST": BUILT,
        "REGISTRY": PROD_REGISTRY,
        "ECR_REPOSITORY": "exif-stripper",
    }
    # GitHub's `shell: bash`: bash --noprofile --norc -eo pipefail {0}
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = outputs.read_text().splitlines() if outputs.exists() else []
    return result, dict(line.split("=", 1) for line in lines)


def docker_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "ecr" / "docker.log"
    return log.read_text().splitlines() if log.exists() else []


def test_promotion_copies_the_manifest_and_hands_prod_its_own_uri(tmp_path: Path) -> None:
    result, outputs = promote(tmp_path)
    assert result.returncode == 0, result.stderr
    target = f"{PROD_REGISTRY}/exif-stripper"
    assert docker_calls(tmp_path) == [
        f"buildx imagetools create --prefer-index=false --tag {target}:{COMMIT} {DEV_IMAGE}"
    ]
    assert outputs == {"uri": f"{target}@{BUILT}"}
    # The digest is read back from prod's repository, under the tag this commit pushed.
    lookups = (tmp_path / "ecr" / "aws.log").read_text().splitlines()
    assert lookups[-1].startswith(
        f"ecr describe-images --repository-name exif-stripper --image-ids imageTag={COMMIT} "
    )


def test_promotion_fails_when_prod_holds_another_digest(tmp_path: Path) -> None:
    result, outputs = promote(tmp_path, copied="sha256:" + "ab" * 32)
    assert result.returncode != 0
    assert "not the built" in result.stdout
    assert "uri" not in outputs


def test_a_rerun_finds_its_copy_and_does_not_push_again(tmp_path: Path) -> None:
    result, outputs = promote(tmp_path, in_prod=BUILT)
    assert result.returncode == 0, result.stderr
    assert docker_calls(tmp_path) == []
    assert outputs == {"uri": f"{PROD_REGISTRY}/exif-stripper@{BUILT}"}


@pytest.mark.parametrize(
    "source",
    [DEV_IMAGE.replace(BUILT, "sha256:" + "ab" * 32), DEV_IMAGE.replace(f"@{BUILT}", ":latest")],
    ids=["another digest", "a tag"],
)
def test_promotion_refuses_a_source_that_is_not_the_built_digest(
    tmp_path: Path, source: str
) -> None:
    result, outputs = promote(tmp_path, source=source)
    assert result.returncode != 0
    assert docker_calls(tmp_path) == []
    assert "uri" not in outputs


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


# --- the toolbox (.ci/toolbox/toolbox.sh), with a stand-in for terragrunt -----------------------

FAKE_TERRAGRUNT = """#!/usr/bin/env bash
printf '%s\\n%s\\n' "$PWD" "$*" > "${FAKE_TERRAGRUNT_LOG}"
"""


def toolbox(
    tmp_path: Path, *arguments: str, image: str | None = None
) -> tuple[int, str, list[str]]:
    """Exit status, stderr, and [working directory, arguments] of the terragrunt it ran."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "terragrunt").write_text(FAKE_TERRAGRUNT)
    (bin_dir / "terragrunt").chmod(0o755)
    log = tmp_path / "terragrunt.log"
    log.unlink(missing_ok=True)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "TOOLBOX_REPO": str(ROOT),
        "TG_PROVIDER_CACHE_DIR": str(tmp_path / "plugins"),
        "TG_DOWNLOAD_DIR": str(tmp_path / "terragrunt"),
        "FAKE_TERRAGRUNT_LOG": str(log),
    }
    if image is not None:
        env[IMAGE_URI_VARIABLE] = image
    command = ["bash", str(TOOLBOX / "toolbox.sh"), *arguments]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    ran = log.read_text().splitlines() if log.exists() else []
    return result.returncode, result.stderr, ran


IMAGE = f"222222222222.dkr.ecr.eu-west-1.amazonaws.com/exif-stripper@{BUILT}"


def test_the_first_deploy_applies_the_repository_alone_without_an_image(tmp_path: Path) -> None:
    status, stderr, ran = toolbox(tmp_path, "apply", "dev", "ecr", "--backend-bootstrap")
    assert status == 0, stderr
    assert ran == [str(ROOT / "live" / "dev" / "ecr"), "run apply --backend-bootstrap"]


@pytest.mark.parametrize("unit", [[], ["exif-lambda"]], ids=["every unit", "exif-lambda"])
@pytest.mark.parametrize(
    "image", [None, IMAGE.replace(f"@{BUILT}", ":latest"), IMAGE.replace("3f", "00")]
)
def test_applying_the_function_needs_an_image_by_digest(
    tmp_path: Path, unit: list[str], image: str | None
) -> None:
    status, stderr, ran = toolbox(tmp_path, "apply", "prod", *unit, image=image)
    assert status == 2
    assert IMAGE_URI_VARIABLE in stderr
    assert "apply prod ecr --backend-bootstrap" in stderr, "points a new environment the way"
    assert ran == [], "nothing is applied, not even the units that need no image"


@pytest.mark.parametrize("unit", [[], ["exif-lambda"]], ids=["every unit", "exif-lambda"])
def test_applying_with_an_image_by_digest_runs_terragrunt(tmp_path: Path, unit: list[str]) -> None:
    status, stderr, ran = toolbox(tmp_path, "apply", "prod", *unit, image=IMAGE)
    assert status == 0, stderr
    if unit:
        assert ran == [str(ROOT / "live" / "prod" / "exif-lambda"), "run apply"]
    else:
        assert ran == [str(ROOT / "live" / "prod"), "run --all apply"]


@pytest.mark.parametrize("command", ["plan", "destroy"])
def test_plan_and_destroy_need_no_image(tmp_path: Path, command: str) -> None:
    status, stderr, ran = toolbox(tmp_path, command, "dev")
    assert status == 0, stderr
    assert ran == [str(ROOT / "live" / "dev"), f"run --all {command}"]


def test_the_toolbox_refuses_a_unit_that_does_not_exist(tmp_path: Path) -> None:
    status, stderr, ran = toolbox(tmp_path, "apply", "dev", "nope")
    assert status == 2
    assert "live/dev/nope" in stderr
    assert ran == []


def test_the_first_deploy_is_documented_where_the_toolbox_is() -> None:
    command = "docker compose run --rm dev apply dev ecr --backend-bootstrap"
    assert command in (ROOT / "docker-compose.yml").read_text()
    usage = subprocess.run(
        ["bash", str(TOOLBOX / "toolbox.sh"), "help"], capture_output=True, text=True, check=True
    ).stdout
    assert "apply ENV ecr --backend-bootstrap" in usage
