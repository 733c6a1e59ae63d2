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
import shutil
import subprocess
import tomllib
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
    steps = job.get("steps", [])  # a job that calls a reusable workflow has none
    return [step for step in steps if step.get("uses", "").startswith(f"{action}@")]


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


def assumes_an_aws_role(job: dict[str, Any]) -> bool:
    """A job that configures AWS credentials, or calls a workflow that has one."""
    called = job.get("uses", "")
    if called.startswith("$/.github/workflows/"):  # this repository's reusable workflow
        return any(assumes_an_aws_role(j) for j in load(ROOT / called[2:])["jobs"].values())
    return bool(steps_using(job, "aws-actions/configure-aws-credentials"))


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_only_jobs_that_assume_an_aws_role_get_an_oidc_token(name: str) -> None:
    for job_name, job in workflow(name)["jobs"].items():
        wants_token = job["permissions"].get("id-token") == "write"
        assert assumes_an_aws_role(job) == wants_token, f"{name}: job {job_name}"


def pinned_actions() -> set[tuple[str, str]]:
    """(action, version) of every `uses:` in the workflows, from the `# vX.Y.Z` notes."""
    found = set()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for action, version in re.findall(
            r"uses: ([\w./-]+)@[0-9a-f]{40} # (v[\d.]+)", path.read_text()
        ):
            found.add((action, version))
    return found


def test_each_action_is_pinned_to_one_release_across_the_workflows() -> None:
    actions = [action for action, _ in pinned_actions()]
    assert len(actions) == len(set(actions)), sorted(actions)


def test_deploy_runs_after_ci_has_passed_on_that_commit_of_main() -> None:
    """deploy.yml is a reusable workflow that only ci.yml calls: same run, same commit."""
    assert workflow("deploy.yml")["on"] == {"workflow_call": None}
    deploy = workflow("ci.yml")["jobs"]["deploy"]
    assert deploy["uses"] == "$/.github/workflows/deploy.yml"
    assert set(deploy["needs"]) >= {"test", "terragrunt-fmt"}
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    # The deploy checks out the commit the run tested (github.sha), never another ref.
    for step in all_steps():
        if step[0].name == "deploy.yml" and step[1].get("uses", "").startswith("actions/checkout@"):
            assert "ref" not in step[1].get("with", {})


def test_each_environment_deploys_in_its_own_concurrency_group() -> None:
    """A run waiting for prod's approval must not hold up dev (nor the next commit's CI)."""
    document = workflow("deploy.yml")
    assert "concurrency" not in document, "workflow-level concurrency blocks dev behind prod"
    groups = {}
    for name in ("dev", "prod"):
        job = document["jobs"][name]
        assert job["concurrency"]["cancel-in-progress"] is False, "never stop an apply half-way"
        groups[name] = job["concurrency"]["group"]
        assert job["environment"] == {"dev": "development", "prod": "production"}[name]
    assert groups == {"dev": "deploy-development", "prod": "deploy-production"}
    ci = workflow("ci.yml")["concurrency"]
    # Pull requests share a group per branch (a new push cancels the old run); pushes to main
    # get one per commit, since their runs carry the deploy.
    assert (
        ci["group"] == "ci-${{ github.event_name == 'pull_request' && github.ref || github.sha }}"
    )
    assert ci["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


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
        # toolbox.sh runs it as the checkout's owner: `as_owner terragrunt ...`
        owned = re.findall(r"\bas_owner terragrunt ([^\n|;&)]+)", script)
        for arguments in [*re.findall(command, script, flags=re.MULTILINE), *owned]:
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


def supported_pythons() -> set[str]:
    """The oldest Python the project supports (requires-python) and the Lambda image's."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    oldest = re.fullmatch(r">=\s*(3\.\d+)", requires)
    image = re.search(r"lambda/python:(3\.\d+)@", (ROOT / "image" / "Dockerfile").read_text())
    assert oldest
    assert image
    return {oldest.group(1), image.group(1)}


def test_make_test_runs_on_the_oldest_supported_python_and_on_the_images() -> None:
    job = workflow("ci.yml")["jobs"]["test"]
    pythons = job["strategy"]["matrix"]["python"]
    assert set(pythons) == supported_pythons()
    assert len(pythons) == 2
    assert job["strategy"]["fail-fast"] is False, "one Python's failure hides the other's"
    (setup,) = steps_using(job, "actions/setup-python")
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    # Each Python's hook environments are its own.
    (cache,) = steps_using(job, "actions/cache")
    assert "${{ matrix.python }}" in cache["with"]["key"]


def test_the_jobs_beside_make_test_run_once_on_the_images_python() -> None:
    document = workflow("ci.yml")
    image_python = max(supported_pythons(), key=lambda v: tuple(map(int, v.split("."))))
    assert document["env"]["PYTHON_VERSION"] == image_python
    for name, job in document["jobs"].items():
        if name != "test":
            assert "strategy" not in job, f"{name} runs once"
        for setup in steps_using(job, "actions/setup-python"):
            if name != "test":
                assert setup["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
    # CI's time is that of its longest job: every job that may run keeps within 20 minutes.
    for name in ("test", "chaos"):
        assert document["jobs"][name]["timeout-minutes"] <= 20


def test_ci_runs_a_short_chaos_beside_make_test_and_deploys_only_after_it() -> None:
    jobs = workflow("ci.yml")["jobs"]
    chaos = jobs["chaos"]
    runs = [step.get("run", "") for step in chaos["steps"]]
    assert [run for run in runs if run.startswith("make chaos PHOTOS=")]
    assert "needs" not in chaos, "beside `make test`, not after it"
    assert chaos["timeout-minutes"] <= 20
    assert steps_using(chaos, "hashicorp/setup-terraform")
    assert "chaos" in jobs["deploy"]["needs"]


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
            runs = " ".join(step.get("run", "") for step in job.get("steps", []))
            if "terragrunt " in runs:
                assert "sudo .ci/toolbox/fetch-tools.sh /usr/local/bin terragrunt" in runs, (
                    f"{name}: job {job_name} runs terragrunt without installing the pinned one"
                )


# --- the toolbox: the compose file's commands, run with stand-ins ------------------------------
#
# No Docker engine here: each test runs the command a `docker-compose run SERVICE ARGS...` would
# run in the container (the service's entrypoint, then ARGS or its command) with the real
# toolbox.sh and stand-ins for terragrunt, aws, docker, uv, sleep and setpriv that record their
# arguments (and the image the apply was given) in one log, in order.

COMPOSE = ROOT / "docker-compose.yml"
DEV_REPOSITORY = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/exif-stripper"
PUSHED = "sha256:" + "5e" * 32

FAKE_TOOL = """#!/usr/bin/env bash
# A stand-in: log "<tool> <args>" (and where terragrunt ran, with which image), then answer.
name=$(basename "$0")
case $name in
  terragrunt) printf '%s\t%s\t%s\t%s\n' "$name" "$PWD" "${EXIF_IMAGE_URI:-}" "$*" >> "$FAKE_LOG" ;;
  *) printf '%s\t%s\n' "$name" "$*" >> "$FAKE_LOG" ;;
esac
case "$name $*" in
  "terragrunt "*"-- output -raw repository_url") printf '%s' "$FAKE_REPOSITORY_URL" ;;
  "aws ecr get-login-password"*) echo registry-token ;;
  "aws ecr describe-images"*) echo "$FAKE_DIGEST" ;;
  "docker login"*) printf 'docker\tstdin %s\n' "$(cat)" >> "$FAKE_LOG" ;;
  "docker info"*) exit "${FAKE_DOCKER_INFO_STATUS:-0}" ;;
  "docker buildx inspect"*) echo "Platforms: ${FAKE_PLATFORMS:-linux/amd64, linux/arm64}" ;;
  "setpriv "*) while [[ $1 != -- ]]; do shift; done; shift; exec "$@" ;;
esac
"""
TOOLS = ("terragrunt", "aws", "docker", "uv", "sleep", "setpriv")


def compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"][name]
    return service


def compose_argv(service: str, arguments: tuple[str, ...]) -> list[str]:
    """What `docker-compose run SERVICE ARGUMENTS...` runs in the container."""
    definition = compose_service(service)
    command = list(arguments) if arguments else list(definition.get("command", []))
    entrypoint = list(definition["entrypoint"])
    assert entrypoint[0] == "toolbox", "the image installs toolbox.sh as `toolbox`"
    return ["bash", str(TOOLBOX / "toolbox.sh"), *entrypoint[1:], *command]


def compose_run(
    tmp_path: Path,
    service: str,
    *arguments: str,
    env: dict[str, str] | None = None,
    repo: Path = ROOT,
    fakes: dict[str, str] | None = None,
) -> tuple[int, str, list[list[str]]]:
    """Exit status, stderr, and every stand-in call ([tool, *fields]) of the command. `env` is
    the caller's environment that compose passes on; `fakes` tells the stand-ins what to say."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in TOOLS:
        (bin_dir / tool).write_text(FAKE_TOOL)
        (bin_dir / tool).chmod(0o755)
    log = tmp_path / "calls.log"
    log.unlink(missing_ok=True)
    # Only what compose passes through (its `environment:` list) reaches the container.
    passed = {name for name in compose_service(service)["environment"]}
    unknown = set(env or {}) - passed
    assert not unknown, f"docker-compose.yml does not pass {unknown} to {service}"
    full_env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "TOOLBOX_REPO": str(repo),
        "TG_PROVIDER_CACHE_DIR": str(tmp_path / "plugins"),
        "TG_DOWNLOAD_DIR": str(tmp_path / "terragrunt"),
        "FAKE_LOG": str(log),
        "FAKE_REPOSITORY_URL": DEV_REPOSITORY,
        "FAKE_DIGEST": PUSHED,
        **(fakes or {}),
        **(env or {}),
    }
    argv = compose_argv(service, arguments)
    result = subprocess.run(argv, env=full_env, capture_output=True, text=True, check=False)
    calls = [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []
    return result.returncode, result.stderr, calls


def terragrunt_calls(calls: list[list[str]], repo: Path = ROOT) -> list[tuple[str, str, str]]:
    """(directory relative to the repository, image given, arguments) of each terragrunt."""
    return [
        (Path(c[1]).relative_to(repo).as_posix(), c[2], c[3]) for c in calls if c[0] == "terragrunt"
    ]


def calls_of(calls: list[list[str]], tool: str) -> list[str]:
    return [c[1] for c in calls if c[0] == tool]


IMAGE = f"222222222222.dkr.ecr.eu-west-1.amazonaws.com/exif-stripper@{BUILT}"


def test_apply_on_a_fresh_account_builds_pushes_and_applies_the_image_by_digest(
    tmp_path: Path,
) -> None:
    """`docker-compose run dev apply`: the image repository first (with the state bucket),
    then the image through the host's engine, then every unit with that image by digest."""
    status, stderr, calls = compose_run(tmp_path, "dev", "apply")
    assert status == 0, stderr
    image = f"{DEV_REPOSITORY}@{PUSHED}"
    assert terragrunt_calls(calls) == [
        ("live/dev/ecr", "", "run --non-interactive --backend-bootstrap -- apply -auto-approve"),
        ("live/dev/ecr", "", "run --non-interactive -- output -raw repository_url"),
        ("live/dev", image, "run --all --non-interactive --backend-bootstrap -- apply"),
    ]
    docker = calls_of(calls, "docker")
    registry = DEV_REPOSITORY.split("/")[0]
    assert docker[:4] == [
        "info",
        "buildx inspect",
        f"login --username AWS --password-stdin {registry}",
        "stdin registry-token",
    ]
    (build,) = docker[4:]
    tag = re.fullmatch(
        "buildx build --platform linux/arm64 --provenance=false --sbom=false --push "
        rf"--tag {re.escape(DEV_REPOSITORY)}:(toolbox-\d{{8}}T\d{{6}}Z) "
        rf"{re.escape(str(ROOT))}/image",
        build,
    )
    assert tag, build
    assert calls_of(calls, "aws") == [
        "ecr get-login-password --region eu-west-1",
        f"ecr describe-images --region eu-west-1 --repository-name exif-stripper "
        f"--image-ids imageTag={tag[1]} --query imageDetails[0].imageDigest --output text",
    ]


@pytest.mark.parametrize(
    ("arguments", "env"), [(("apply", "prod"), {}), (("apply",), {"ENV": "prod"})]
)
def test_apply_prod_is_chosen_by_argument_or_env(
    tmp_path: Path, arguments: tuple[str, ...], env: dict[str, str]
) -> None:
    status, stderr, calls = compose_run(
        tmp_path, "dev", *arguments, env={**env, IMAGE_URI_VARIABLE: IMAGE}
    )
    assert status == 0, stderr
    assert terragrunt_calls(calls) == [
        ("live/prod", IMAGE, "run --all --non-interactive --backend-bootstrap -- apply")
    ]
    assert calls_of(calls, "docker") == [], "a given image is deployed as it is"


@pytest.mark.parametrize("unit", [[], ["exif-lambda"]], ids=["every unit", "exif-lambda"])
@pytest.mark.parametrize(
    "image", [IMAGE.replace(f"@{BUILT}", ":latest"), IMAGE.replace("3f", "00")]
)
def test_a_given_image_must_be_by_digest(tmp_path: Path, unit: list[str], image: str) -> None:
    status, stderr, calls = compose_run(
        tmp_path, "dev", "apply", "prod", *unit, env={IMAGE_URI_VARIABLE: image}
    )
    assert status == 2
    assert IMAGE_URI_VARIABLE in stderr
    assert calls == [], "nothing is built or applied, not even the units that need no image"


def test_applying_one_unit_that_needs_no_image_builds_none(tmp_path: Path) -> None:
    status, stderr, calls = compose_run(tmp_path, "dev", "apply", "dev", "buckets")
    assert status == 0, stderr
    assert terragrunt_calls(calls) == [
        (
            "live/dev/buckets",
            "",
            "run --non-interactive --backend-bootstrap -- apply -auto-approve",
        )
    ]


def test_applying_the_function_alone_builds_its_image_first(tmp_path: Path) -> None:
    status, stderr, calls = compose_run(tmp_path, "dev", "apply", "exif-lambda")
    assert status == 0, stderr
    directories = [(d, bool(image)) for d, image, _ in terragrunt_calls(calls)]
    assert directories == [
        ("live/dev/ecr", False),
        ("live/dev/ecr", False),
        ("live/dev/exif-lambda", True),
    ]


@pytest.mark.parametrize(
    ("fakes", "answer"),
    [
        ({"FAKE_DOCKER_INFO_STATUS": "1"}, "Docker engine"),
        ({"FAKE_PLATFORMS": "linux/amd64"}, "binfmt"),
    ],
    ids=["no engine", "no arm64 emulation"],
)
def test_a_missing_docker_engine_or_emulator_is_explained_before_any_push(
    tmp_path: Path, fakes: dict[str, str], answer: str
) -> None:
    status, stderr, calls = compose_run(tmp_path, "dev", "apply", fakes=fakes)
    assert status == 2
    assert answer in stderr
    assert IMAGE_URI_VARIABLE in stderr, "points to the way around"
    assert not [c for c in calls_of(calls, "docker") if c.startswith(("login", "buildx build"))]
    assert [d for d, _, a in terragrunt_calls(calls) if "--all" in a] == []


@pytest.mark.parametrize(
    ("arguments", "env", "expected"),
    [
        (("destroy",), {}, ("live/dev", "run --all --non-interactive -- destroy")),
        # prod is not disposable: Terragrunt asks before it destroys anything.
        (("destroy", "prod"), {}, ("live/prod", "run --all -- destroy")),
        (("destroy",), {"ENV": "prod"}, ("live/prod", "run --all -- destroy")),
        (("plan",), {}, ("live/dev", "run --all --non-interactive -- plan")),
        (
            ("destroy", "dev", "ecr"),
            {},
            ("live/dev/ecr", "run --non-interactive -- destroy -auto-approve"),
        ),
    ],
)
def test_destroy_and_plan_need_no_image(
    tmp_path: Path, arguments: tuple[str, ...], env: dict[str, str], expected: tuple[str, str]
) -> None:
    status, stderr, calls = compose_run(tmp_path, "dev", *arguments, env=env)
    assert status == 0, stderr
    assert [(d, a) for d, _, a in terragrunt_calls(calls)] == [expected]
    assert calls_of(calls, "docker") == []


def test_the_toolbox_refuses_an_environment_or_unit_that_does_not_exist(tmp_path: Path) -> None:
    for arguments in (("apply", "dev", "nope"), ("destroy", "dev", "nope")):
        status, stderr, calls = compose_run(tmp_path, "dev", *arguments)
        assert status == 2
        assert "live/dev/nope" in stderr
        assert calls == []
    status, stderr, calls = compose_run(tmp_path, "dev", "apply", env={"ENV": "staging"})
    assert (status, calls) == (2, [])
    assert "live/staging" in stderr


@pytest.mark.parametrize(
    ("arguments", "env", "smoke"),
    [
        ((), {}, "--env dev"),
        ((), {"ENV": "prod"}, "--env prod"),
        (("--uploads", "a", "--web", "b"), {}, "--uploads a --web b"),
    ],
)
def test_run_test_runs_the_smoke_test_against_the_environment(
    tmp_path: Path, arguments: tuple[str, ...], env: dict[str, str], smoke: str
) -> None:
    status, stderr, calls = compose_run(tmp_path, "test", *arguments, env=env)
    assert status == 0, stderr
    assert calls_of(calls, "uv") == [
        "sync --frozen --all-groups --quiet",
        f"run --frozen --no-sync python -m tools.smoke {smoke}",
    ]


def test_up_installs_the_project_and_stays_up_for_exec(tmp_path: Path) -> None:
    """`docker-compose up -d` runs dev's default command; `exec -it dev bash` then finds the
    project's environment on PATH (the image's ENV) and a shell as the checkout's owner."""
    status, stderr, calls = compose_run(tmp_path, "dev")
    assert status == 0, stderr
    assert [c[0] for c in calls] == ["uv", "sleep"]
    assert calls_of(calls, "uv") == ["sync --frozen --all-groups --quiet"]
    assert calls_of(calls, "sleep") == ["infinity"]
    assert "profiles" in compose_service("test"), "`up` must not start the smoke test"
    assert "profiles" not in compose_service("dev")
    dockerfile = (TOOLBOX / "Dockerfile").read_text()
    assert "PATH=/home/toolbox/.cache/venv/bin:$PATH" in dockerfile
    assert "UV_PROJECT_ENVIRONMENT=/home/toolbox/.cache/venv" in dockerfile
    assert "exec toolbox shell" in dockerfile, "an exec'd root shell becomes the owner's"


def test_the_toolbox_image_has_the_tools_of_the_shell() -> None:
    """terraform, terragrunt, aws (checksum-verified), make, exiftool, libturbojpeg and
    jpegtran (the Makefile's system packages), docker with buildx."""
    dockerfile = (TOOLBOX / "Dockerfile").read_text()
    assert "fetch-tools.sh /opt/tools/bin terraform terragrunt awscli" in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    makefile = makefile.replace("\\\n", " ")  # join continued lines
    (packages,) = re.findall(r"^SYSTEM_PACKAGES := (.+)$", makefile, flags=re.MULTILINE)
    installs = " ".join(re.findall(r"apt-get install [^&]+", dockerfile))
    for package in [*packages.split(), "make", "docker-cli", "docker-buildx"]:
        assert re.search(rf"\b{re.escape(package)}\b", installs), package


def test_compose_passes_credentials_and_the_environment_and_mounts_the_engine() -> None:
    for name in ("dev", "test"):
        service = compose_service(name)
        assert {"ENV", IMAGE_URI_VARIABLE, "AWS_PROFILE", "AWS_ACCESS_KEY_ID"} <= set(
            service["environment"]
        )
        assert "${HOME}/.aws:/home/toolbox/.aws:ro" in service["volumes"]
        # Root for the Docker socket; toolbox.sh runs the rest as the checkout's owner.
        assert service["user"] == "0:0"
    sockets = [v for v in compose_service("dev")["volumes"] if v.endswith(":/var/run/docker.sock")]
    assert sockets == ["${DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock"]
    assert not [v for v in compose_service("test")["volumes"] if "docker.sock" in v]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a checkout another owner")
def test_as_root_everything_but_docker_runs_as_the_owner_of_the_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "live", checkout / "live", ignore=shutil.ignore_patterns(".terra*"))
    os.chown(checkout, 4321, 4322)
    status, stderr, calls = compose_run(tmp_path, "dev", "apply", repo=checkout)
    assert status == 0, stderr
    as_owner = "--reuid=4321 --regid=4322 --clear-groups --"
    wrapped = [c[1].split(" -- ", 1)[1].split()[0] for c in calls if c[0] == "setpriv"]
    assert wrapped == ["mkdir", "terragrunt", "terragrunt", "aws", "aws", "terragrunt"]
    assert all(c[1].startswith(as_owner) for c in calls if c[0] == "setpriv")
    # docker is not wrapped: it needs root for the socket.
    assert calls_of(calls, "docker")


def readme_toolbox_commands() -> list[tuple[str, ...]]:
    """Every `docker-compose run SERVICE ARGS` the README shows, as (SERVICE, *ARGS)."""
    readme = (ROOT / "README.md").read_text()
    found = re.findall(r"docker-compose run ((?:[a-z][\w-]*)(?: [a-z][\w-]*)*)", readme)
    return sorted({tuple(command.split()) for command in found})


def test_the_readme_shows_the_toolbox_commands() -> None:
    assert {("dev", "apply"), ("dev", "apply", "prod"), ("test",), ("dev", "destroy")} <= set(
        readme_toolbox_commands()
    )


@pytest.mark.parametrize("command", readme_toolbox_commands(), ids=" ".join)
def test_every_toolbox_command_the_readme_shows_runs(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """Each command as a reader would type it, through the compose file and toolbox.sh with
    the stand-ins: none fails for want of an argument, an environment or a unit."""
    status, stderr, _ = compose_run(tmp_path, *command)
    assert status == 0, stderr
