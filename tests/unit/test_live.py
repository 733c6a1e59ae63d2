"""Contract tests of live/, the Terragrunt 1.x configuration that no tool here can run.

There is no Terragrunt binary on this machine, so these tests read the HCL with python-hcl2
and check what `terragrunt run --all plan` would otherwise be the first to find: a unit whose
module does not exist, an input the module does not declare or a required one it lacks, a
dependency output that is neither in the module nor in the mocks, environments that drifted
apart, account numbers or secrets outside env.hcl, and a placeholder image that could reach
apply.

python-hcl2 parses, it does not evaluate. The tests resolve the few patterns live/ uses and
fail loudly on any other: the module named by `source`, `local.env.X` (env.hcl, whose own
`${local.Y}` they substitute), `local.X` of the unit, `dependency.X.outputs.Y` (from the
mocks), and the `can(regex(...))` tests of the image guard.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LIVE = ROOT / "live"
UNITS = LIVE / "_units"  # each unit's one definition, included by live/<env>/<unit>
MODULES = ROOT / "modules"
ENVIRONMENTS = ("dev", "prod")
IMAGE_URI_VARIABLE = "EXIF_IMAGE_URI"  # what .github/workflows/*.yml and the toolbox set
# Mocks stand in for a dependency that has no state yet; apply must always read real outputs.
MOCK_COMMANDS = {"validate", "plan", "init"}

# Strings without their quotes; expressions as "${...}"; blocks as {label: body}.
HCL = hcl2.SerializationOptions(
    strip_string_quotes=True,
    explicit_blocks=False,
    preserve_heredocs=False,
    with_comments=False,
)

Document = dict[str, Any]

# --- reading HCL ---------------------------------------------------------------------------


def load(path: Path) -> Document:
    return dict(hcl2.loads(path.read_text(), serialization_options=HCL))


def labeled(document: Document, kind: str) -> dict[str, Document]:
    """Blocks with one label (`dependency "ecr" {}`), by label."""
    found: dict[str, Document] = {}
    for entry in document.get(kind, []):
        for label, body in entry.items():
            assert label not in found, f"two {kind} blocks labeled {label!r}"
            found[label] = body
    return found


def single(document: Document, kind: str) -> Document:
    """The one unlabeled block of a kind (`terraform {}`, `locals {}`)."""
    entries = document.get(kind, [])
    assert len(entries) == 1, f"expected one {kind} block, found {len(entries)}"
    return dict(entries[0])


def hcl_unescape(literal: str) -> str:
    """The value of an HCL string literal's body (the escapes live/ and the modules use)."""
    escapes = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}
    return re.sub(r'\\(["\\nt])', lambda m: escapes[m[1]], literal)


def whole_expression(value: object) -> str | None:
    """`x` for the value "${x}" (an expression, not a template with text around it)."""
    if not (isinstance(value, str) and value.startswith("${")):
        return None
    depth = 0
    for position, character in enumerate(value):
        depth += {"{": 1, "}": -1}.get(character, 0)
        if depth == 0 and position > 1:
            return value[2:-1] if position == len(value) - 1 else None
    return None


# --- what live/ holds -------------------------------------------------------------------------


def live_files() -> Iterator[Path]:
    """Every file of live/ that is ours: no Terragrunt cache, no provider lock file."""
    for path in sorted(LIVE.rglob("*")):
        ours = ".terragrunt-cache" not in path.parts and path.name != ".terraform.lock.hcl"
        if path.is_file() and ours:
            yield path


def units(env: str) -> dict[str, Path]:
    return {path.parent.name: path.parent for path in sorted((LIVE / env).glob("*/terragrunt.hcl"))}


def definition(unit: str) -> Path:
    return UNITS / f"{unit}.hcl"


def unit_config(env: str, unit: str) -> Document:
    """What a unit deploys: its definition, which its environment's file only includes
    (test_a_unit_of_an_environment_only_includes_root_and_its_definition)."""
    return load(definition(unit))


def unit_directory(env: str, unit: str, path: str) -> Path:
    """A path of a unit's definition, for the unit of one environment:
    `${get_terragrunt_dir()}` is the including unit's directory."""
    return (LIVE / env / unit / path.replace("${get_terragrunt_dir()}/", "")).resolve()


def all_units() -> list[tuple[str, str]]:
    return [(env, unit) for env in ENVIRONMENTS for unit in units(env)]


LIVE_DIR = '${dirname(find_in_parent_folders("root.hcl"))}'  # live/, from any unit
SOURCE = re.compile(re.escape(LIVE_DIR) + r"/\.\./modules//(?P<module>[a-z0-9-]+)")


def source_module(env: str, unit: str) -> Path:
    """The module a unit deploys, from `source = "<live>/../modules//<module>"`."""
    source = single(unit_config(env, unit), "terraform")["source"]
    match = SOURCE.fullmatch(source)
    assert match, f"live/_units/{unit}.hcl: source {source!r} is not <live>/../modules//<module>"
    return MODULES / match["module"]


def module_blocks(module: Path, kind: str) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for path in sorted(module.glob("*.tf")):
        found.update(labeled(load(path), kind))
    return found


def aws_provider_constraint(module: Path) -> str:
    (providers,) = single(load(module / "versions.tf"), "terraform")["required_providers"]
    return str(providers["aws"]["version"])


def env_locals(env: str) -> dict[str, Any]:
    """env.hcl's locals, with the `${local.X}` inside its strings substituted."""
    values = single(load(LIVE / env / "env.hcl"), "locals")
    reference = re.compile(r"\$\{local\.(\w+)\}")
    for _ in range(len(values)):
        for name, value in values.items():
            if isinstance(value, str):
                values[name] = reference.sub(lambda m: str(values[m[1]]), value)
    unresolved = {name: value for name, value in values.items() if "${" in str(value)}
    assert not unresolved, f"live/{env}/env.hcl: cannot resolve {unresolved}"
    return values


class Resolver:
    """Values of a unit's expressions in one environment, with the dependencies' mocks as their
    outputs: what `terragrunt plan` would pass before any dependency is applied."""

    PART = re.compile(r"\$\{([^${}]+)\}")

    def __init__(self, env: str, unit: str) -> None:
        self.env = env_locals(env)
        self.config = unit_config(env, unit)
        self.locals = single(self.config, "locals")
        self.mocks = {
            name: block.get("mock_outputs", {})
            for name, block in labeled(self.config, "dependency").items()
        }
        self.where = f"live/{env}/{unit}"

    def reference(self, expression: str) -> Any:
        if match := re.fullmatch(r"local\.env\.(\w+)", expression):
            return self.env[match[1]]
        if match := re.fullmatch(r"dependency\.([\w-]+)\.outputs\.(\w+)", expression):
            return self.value(self.mocks[match[1]][match[2]])
        if match := re.fullmatch(r"local\.(\w+)", expression):
            return self.value(self.locals[match[1]])
        raise AssertionError(f"{self.where}: the tests cannot resolve ${{{expression}}}")

    def value(self, value: Any) -> Any:
        expression = whole_expression(value)
        if expression is not None:
            return self.reference(expression)
        if isinstance(value, str):
            return self.PART.sub(lambda m: str(self.reference(m[1])), value)
        return value

    def placeholder_image_uri(self) -> str:
        """The image_uri the unit passes when EXIF_IMAGE_URI is not set."""
        pattern = rf'get_env\("{IMAGE_URI_VARIABLE}", "(.*)"\)'
        match = re.fullmatch(pattern, whole_expression(self.config["inputs"]["image_uri"]) or "")
        assert match, f'{self.where}: image_uri is not get_env("{IMAGE_URI_VARIABLE}", ...)'
        return str(self.value(hcl_unescape(match[1])))


def validation_checks(variable: Document, name: str) -> list[Callable[[Any], bool]]:
    """The module's `can(regex(...))` and `contains([...], ...)` tests of a variable, each a
    necessary condition of its validation rules (null passes where the rule allows null)."""
    checks: list[Callable[[Any], bool]] = []
    for rule in variable.get("validation", []):
        condition = whole_expression(rule["condition"]) or ""
        nullable = f"var.{name} == null ||" in condition
        for literal in re.findall(rf'can\(regex\("((?:[^"\\]|\\.)*)", var\.{name}\)\)', condition):
            pattern = re.compile(hcl_unescape(literal))
            checks.append(lambda v, p=pattern, n=nullable: (n and v is None) or bool(p.search(v)))
        for listed in re.findall(rf"contains\((\[[^\]]*\]), var\.{name}\)", condition):
            allowed = ast.literal_eval(listed)
            checks.append(lambda v, a=allowed: v in a)
    return checks


def image_guard(env: str) -> Callable[[str], bool]:
    """Whether the exif-lambda unit's before_hook lets apply run with EXIF_IMAGE_URI = uri.

    The guard is `if = !local.<flag>`, where the flag ANDs `can(regex(...))` tests (optionally
    negated) of a local read from EXIF_IMAGE_URI. The tests evaluate exactly that shape."""
    config = unit_config(env, "exif-lambda")
    unit_locals = single(config, "locals")
    hooks = labeled(single(config, "terraform"), "before_hook")
    guards = [hook for hook in hooks.values() if "apply" in hook["commands"]]
    assert len(guards) == 1, f"live/{env}/exif-lambda: expected one before_hook on apply"
    (guard,) = guards
    flag = re.fullmatch(r"!local\.(\w+)", whole_expression(guard["if"]) or "")
    assert flag, f"live/{env}/exif-lambda: the guard's if is not !local.<flag>: {guard['if']!r}"
    body = (whole_expression(unit_locals[flag[1]]) or "").strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    tests: list[tuple[bool, re.Pattern[str]]] = []
    for term in body.split("&&"):
        match = re.fullmatch(r'\s*(!?)can\(regex\("((?:[^"\\]|\\.)*)", local\.(\w+)\)\)\s*', term)
        assert match, f"live/{env}/exif-lambda: the tests cannot evaluate {term.strip()!r}"
        source = whole_expression(unit_locals[match[3]])
        assert source == f'get_env("{IMAGE_URI_VARIABLE}", "")', f"local.{match[3]} = {source}"
        tests.append((match[1] == "!", re.compile(hcl_unescape(match[2]))))

    def lets_apply_run(uri: str) -> bool:
        return all(bool(pattern.search(uri)) != negated for negated, pattern in tests)

    return lets_apply_run


# --- the files -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [p for p in live_files() if p.suffix == ".hcl"], ids=str)
def test_every_hcl_file_parses(path: Path) -> None:
    assert load(path), f"{path.relative_to(ROOT)} is empty"


def test_live_has_a_root_hcl_and_no_root_terragrunt_hcl() -> None:
    """Terragrunt 1.x takes a live/terragrunt.hcl for a unit of its own in `run --all`."""
    assert (LIVE / "root.hcl").is_file()
    assert not (LIVE / "terragrunt.hcl").exists()
    assert not list(LIVE.glob("*/terragrunt.hcl")), "an environment folder is not a unit"


def test_both_environments_have_one_unit_per_module_and_one_definition_each() -> None:
    modules = {path.parent.name for path in MODULES.glob("*/versions.tf")}
    assert {path.stem for path in UNITS.glob("*.hcl")} == modules, "live/_units"
    for env in ENVIRONMENTS:
        assert set(units(env)) == modules, f"live/{env}"


@pytest.mark.parametrize(("env", "unit"), all_units())
def test_a_unit_of_an_environment_only_includes_root_and_its_definition(
    env: str, unit: str
) -> None:
    """Units are defined once (live/_units): an environment's unit holds no configuration of
    its own, so environments can differ only in env.hcl."""
    config = load(LIVE / env / unit / "terragrunt.hcl")
    assert set(config) == {"include"}, f"live/{env}/{unit} holds more than includes"
    assert labeled(config, "include") == {
        "root": {"path": '${find_in_parent_folders("root.hcl")}'},
        "unit": {"path": f"{LIVE_DIR}/_units/{unit}.hcl"},
    }


def test_an_environment_holds_its_env_hcl_and_units_only() -> None:
    for env in ENVIRONMENTS:
        folder = LIVE / env
        ours = {p.relative_to(folder).as_posix() for p in live_files() if p.is_relative_to(folder)}
        expected = {"env.hcl"} | {f"{unit}/terragrunt.hcl" for unit in units(env)}
        assert ours == expected, f"live/{env}"


def test_env_hcl_files_define_the_same_locals() -> None:
    names = {env: set(single(load(LIVE / env / "env.hcl"), "locals")) for env in ENVIRONMENTS}
    assert names["dev"] == names["prod"], names["dev"] ^ names["prod"]


# --- units and modules -----------------------------------------------------------------------


@pytest.mark.parametrize(("env", "unit"), all_units())
def test_unit_deploys_its_module(env: str, unit: str) -> None:
    config = unit_config(env, unit)
    assert "include" not in config, f"live/_units/{unit}.hcl: the unit includes root.hcl"
    module = source_module(env, unit)
    assert module.name == unit, f"live/{env}/{unit} deploys modules/{module.name}"
    assert (module / "variables.tf").is_file(), f"modules/{module.name} does not exist"
    # State, provider and versions come from root.hcl alone.
    assert "remote_state" not in config
    assert "generate" not in config


@pytest.mark.parametrize(("env", "unit"), all_units())
def test_inputs_are_variables_of_the_module(env: str, unit: str) -> None:
    declared = module_blocks(source_module(env, unit), "variable")
    unknown = set(unit_config(env, unit).get("inputs", {})) - set(declared)
    assert not unknown, f"live/{env}/{unit}: modules/{unit} has no variables {sorted(unknown)}"


@pytest.mark.parametrize(("env", "unit"), all_units())
def test_inputs_cover_every_required_variable(env: str, unit: str) -> None:
    required = {
        name
        for name, body in module_blocks(source_module(env, unit), "variable").items()
        if "default" not in body
    }
    from_root = set(load(LIVE / "root.hcl").get("inputs", {}))
    missing = required - set(unit_config(env, unit).get("inputs", {})) - from_root
    assert not missing, f"live/{env}/{unit} does not set {sorted(missing)}"


@pytest.mark.parametrize(("env", "unit"), all_units())
def test_inputs_pass_the_modules_checks_with_env_values_and_mocks(env: str, unit: str) -> None:
    """What plan would validate first: names, ARNs and enumerated values, with the mocks."""
    resolver = Resolver(env, unit)
    declared = module_blocks(source_module(env, unit), "variable")
    for name, expression in resolver.config.get("inputs", {}).items():
        if name == "image_uri":
            value: Any = resolver.placeholder_image_uri()
        else:
            value = resolver.value(expression)
        for check in validation_checks(declared[name], name):
            assert check(value), f"live/{env}/{unit}: {name} = {value!r} fails its validation"


@pytest.mark.parametrize(("env", "unit"), all_units())
def test_dependency_outputs_exist_in_the_module_and_in_the_mocks(env: str, unit: str) -> None:
    text = definition(unit).read_text()
    dependencies = labeled(unit_config(env, unit), "dependency")
    stray = re.findall(r"\bdependency\.[\w-]+\.(?!outputs\.\w)\S*", text)
    assert not stray, f"live/{env}/{unit}: read dependencies as dependency.X.outputs.Y: {stray}"
    for name, output in re.findall(r"\bdependency\.([\w-]+)\.outputs\.(\w+)", text):
        assert name in dependencies, f"live/{env}/{unit}: no dependency block {name!r}"
        dependency_unit = Path(dependencies[name]["config_path"]).name
        outputs = module_blocks(source_module(env, dependency_unit), "output")
        assert output in outputs, f"live/{env}/{unit}: modules/{dependency_unit} has no {output}"
        mocks = dependencies[name].get("mock_outputs", {})
        assert output in mocks, f"live/{env}/{unit}: dependency {name!r} mocks no {output}"


@pytest.mark.parametrize(("env", "unit"), all_units())
def test_mocks_are_outputs_and_only_for_validate_plan_and_init(env: str, unit: str) -> None:
    for name, dependency in labeled(unit_config(env, unit), "dependency").items():
        outputs = module_blocks(source_module(env, Path(dependency["config_path"]).name), "output")
        stale = set(dependency.get("mock_outputs", {})) - set(outputs)
        assert not stale, f"live/{env}/{unit}: dependency {name!r} mocks non-outputs {stale}"
        allowed = set(dependency.get("mock_outputs_allowed_terraform_commands", []))
        assert allowed == MOCK_COMMANDS, f"live/{env}/{unit}: {name!r} mocks for {allowed}"


@pytest.mark.parametrize(("env", "unit"), all_units())
def test_dependencies_are_units_of_the_same_environment(env: str, unit: str) -> None:
    for name, dependency in labeled(unit_config(env, unit), "dependency").items():
        path = dependency["config_path"]
        assert path.startswith("${get_terragrunt_dir()}/"), f"{name!r}: relative to what? {path}"
        target = unit_directory(env, unit, path)
        assert target in units(env).values(), f"live/{env}/{unit}: {name!r} -> {target}"


def test_every_local_that_is_read_is_defined() -> None:
    for env in ENVIRONMENTS:
        defined = set(env_locals(env))
        files = [LIVE / "root.hcl", *(definition(unit) for unit in units(env))]
        for path in files:
            text = path.read_text()
            unknown = set(re.findall(r"\blocal\.env\.(\w+)", text)) - defined
            assert not unknown, f"{path.relative_to(ROOT)} reads local.env.{sorted(unknown)}"
            own = set(single(load(path), "locals"))
            unknown = set(re.findall(r"\blocal\.(?!env\.)(\w+)", text)) - own
            assert not unknown, f"{path.relative_to(ROOT)} reads undefined local.{unknown}"


# --- root.hcl ---------------------------------------------------------------------------------


def root_generated(name: str, env: str) -> tuple[str, Document]:
    """The path and the parsed contents of a root.hcl `generate` block, for one environment."""
    block = labeled(load(LIVE / "root.hcl"), "generate")[name]
    values = env_locals(env)
    contents = re.sub(r"\$\{local\.env\.(\w+)\}", lambda m: str(values[m[1]]), block["contents"])
    return block["path"], dict(hcl2.loads(hcl_unescape(contents), serialization_options=HCL))


def test_root_reads_the_environment_from_env_hcl() -> None:
    assert single(load(LIVE / "root.hcl"), "locals")["env"] == (
        '${read_terragrunt_config(find_in_parent_folders("env.hcl")).locals}'
    )


def test_root_keeps_state_in_s3_encrypted_locked_and_one_key_per_unit() -> None:
    remote_state = single(load(LIVE / "root.hcl"), "remote_state")
    assert remote_state["backend"] == "s3"
    config = remote_state["config"]
    assert config["use_lockfile"] is True
    assert config["encrypt"] is True
    assert config["key"] == "${path_relative_to_include()}/terraform.tfstate"
    assert config["bucket"] == "${local.env.state_bucket}"
    assert config["region"] == "${local.env.region}"
    assert "dynamodb_table" not in config, "locking is the lock file's job"
    assert remote_state["generate"]["path"] == "backend.tf"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_root_pins_the_provider_to_the_environments_account_and_region(env: str) -> None:
    path, generated = root_generated("provider", env)
    assert path == "provider.tf"
    (provider,) = labeled(generated, "provider").values()
    values = env_locals(env)
    assert provider["region"] == values["region"]
    assert provider["allowed_account_ids"] == [values["account_id"]]
    (default_tags,) = provider["default_tags"]
    assert default_tags["tags"]["Environment"] == values["environment"]


def test_root_constrains_the_aws_provider_as_every_module_does() -> None:
    path, generated = root_generated("versions", "dev")
    # Terraform refuses a second required_providers block in a module; an override file
    # replaces the module's instead ("Duplicate required providers configuration").
    assert path.endswith("_override.tf")
    terraform = single(generated, "terraform")
    (providers,) = terraform["required_providers"]
    assert providers["aws"]["source"] == "hashicorp/aws"
    for module in sorted(MODULES.glob("*/versions.tf")):
        assert providers["aws"]["version"] == aws_provider_constraint(module.parent), module
    # S3 lock files (use_lockfile) are generally available from Terraform 1.11.
    assert terraform["required_version"] == ">= 1.11"


# --- the environments --------------------------------------------------------------------------


def test_each_environment_has_its_own_account() -> None:
    accounts = [env_locals(env)["account_id"] for env in ENVIRONMENTS]
    assert all(re.fullmatch(r"\d{12}", account) for account in accounts), accounts
    assert len(set(accounts)) == len(accounts)
    for env in ENVIRONMENTS:
        values = env_locals(env)
        for name, value in values.items():
            for account in re.findall(r"arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):", str(value)):
                assert account == values["account_id"], f"live/{env}/env.hcl: {name} = {value}"


def test_production_differs_from_dev_where_it_should() -> None:
    dev, prod = env_locals("dev"), env_locals("prod")
    assert prod["kms_key_arn"], "prod encrypts with a KMS key (SSE-KMS)"
    assert prod["alarm_sns_topic_arn"], "prod alarms notify someone"
    assert prod["lambda_reserved_concurrency"] >= 1, "prod reserves concurrency"
    assert prod["disposable"] is False, "prod data survives a destroy"
    assert prod["log_retention_days"] > dev["log_retention_days"]
    assert prod["noncurrent_version_expiration_days"] > dev["noncurrent_version_expiration_days"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_queue_drives_no_more_invocations_than_are_reserved(env: str) -> None:
    values = env_locals(env)
    reserved = values["lambda_reserved_concurrency"]
    assert reserved == -1 or values["queue_maximum_concurrency"] <= reserved


def test_the_function_runs_on_the_architecture_ci_builds_for() -> None:
    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    architecture = {"linux/arm64": "arm64", "linux/amd64": "x86_64"}[
        deploy["env"]["IMAGE_PLATFORM"]
    ]
    for env in ENVIRONMENTS:
        assert env_locals(env)["lambda_architecture"] == architecture, env


def test_one_repository_name_for_the_one_ecr_repository_variable() -> None:
    """deploy.yml pushes to vars.ECR_REPOSITORY in dev's account and copies the image into the
    repository of that name in prod's: each account has its own, named alike."""
    assert len({env_locals(env)["ecr_name_prefix"] for env in ENVIRONMENTS}) == 1


def test_one_region_for_the_one_aws_region_variable() -> None:
    """deploy.yml reaches both accounts (and both registries) in vars.AWS_REGION."""
    assert len({env_locals(env)["region"] for env in ENVIRONMENTS}) == 1


# --- the image ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_plan_without_an_image_uses_a_placeholder_that_apply_refuses(env: str) -> None:
    resolver = Resolver(env, "exif-lambda")
    placeholder = resolver.placeholder_image_uri()
    repository_url = resolver.value("${dependency.ecr.outputs.repository_url}")
    assert placeholder.startswith(f"{repository_url}@sha256:")
    lets_apply_run = image_guard(env)
    assert not lets_apply_run(placeholder)
    assert not lets_apply_run("")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_apply_runs_only_with_an_image_by_digest(env: str) -> None:
    lets_apply_run = image_guard(env)
    repository = f"{env_locals(env)['account_id']}.dkr.ecr.eu-west-1.amazonaws.com/exif-stripper"
    assert lets_apply_run(f"{repository}@sha256:{'3f' * 32}")
    assert not lets_apply_run(f"{repository}:latest")
    assert not lets_apply_run(f"{repository}@sha256:{'3f' * 31}")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_image_guard_stops_apply_and_nothing_else(env: str) -> None:
    hooks = labeled(single(unit_config(env, "exif-lambda"), "terraform"), "before_hook")
    (guard,) = [hook for hook in hooks.values() if "apply" in hook["commands"]]
    assert guard["commands"] == ["apply"], "plan, validate and destroy need no image"
    assert guard["execute"][:2] == ["sh", "-c"]
    assert guard["execute"][2].rstrip().endswith("exit 1")
    assert IMAGE_URI_VARIABLE in guard["execute"][2], "the message names what to set"


# --- what must not be in live/ ------------------------------------------------------------------

ACCOUNT_NUMBER = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
# An ARN whose account field is filled in, literally or by interpolation.
ARN_WITH_ACCOUNT = re.compile(r"arn:aws[\w-]*:[\w-]+:[^:\s\"]*:[^:\s\"]+:")
SECRETS = {
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a secret assignment": re.compile(
        r"(?i)\b\w*(?:secret|password|passwd|token|private_key)\w*\s*=\s*\"[^\"$]"
    ),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a long random string": re.compile(
        r"(?<![\w+/])(?=[\w+/]*[0-9])(?=[\w+/]*[a-z])(?=[\w+/]*[A-Z])[\w+/]{40,}={0,2}"
    ),
}


def test_account_numbers_and_arns_appear_only_in_env_hcl() -> None:
    checked = [path for path in live_files() if path.name != "env.hcl"]
    assert LIVE / "root.hcl" in checked
    for path in checked:
        text = path.read_text()
        assert not ACCOUNT_NUMBER.findall(text), f"{path.relative_to(ROOT)}: account number"
        assert not ARN_WITH_ACCOUNT.findall(text), f"{path.relative_to(ROOT)}: ARN; use env.hcl"


def test_no_secrets_anywhere_in_live() -> None:
    for path in live_files():
        text = path.read_text()
        for kind, pattern in SECRETS.items():
            assert not pattern.search(text), f"{path.relative_to(ROOT)} holds {kind}"


def files_that_run_terragrunt() -> Iterator[Path]:
    yield from live_files()
    for folder in (ROOT / ".github", ROOT / ".ci"):
        yield from (path for path in sorted(folder.rglob("*")) if path.is_file())
    candidates = [ROOT / "Makefile", ROOT / "docker-compose.yml", *ROOT.glob("*.md")]
    yield from (path for path in candidates if path.is_file())
    yield from sorted(MODULES.rglob("README.md"))
    yield from sorted((ROOT / "docs").glob("*.md"))


def test_nothing_runs_terragrunt_the_pre_1_0_way() -> None:
    """`run-all` and the --terragrunt-* flags were removed on the way to Terragrunt 1.0."""
    run_all = re.compile(r"\bterragrunt\s+(?:--?\S+\s+)*run-all\b")
    legacy_flag = re.compile(r"(?<![\w-])--terragrunt-[a-z]")
    for path in files_that_run_terragrunt():
        text = path.read_text(errors="replace")
        assert not run_all.search(text), f"{path.relative_to(ROOT)}: use `terragrunt run --all`"
        assert not legacy_flag.search(text), f"{path.relative_to(ROOT)}: a --terragrunt-* flag"
    for path in live_files():
        assert "run-all" not in path.read_text(), path.relative_to(ROOT)


# --- provider lock files ------------------------------------------------------------------------

LOCK_FILE = ".terraform.lock.hcl"
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"


def provider_lock(env: str, unit: str) -> Document:
    """The aws provider's entry of a unit's committed lock file."""
    path = LIVE / env / unit / LOCK_FILE
    assert path.is_file(), f"live/{env}/{unit} commits no {LOCK_FILE}: run `make provider-locks`"
    providers = labeled(load(path), "provider")
    assert set(providers) == {AWS_PROVIDER}, f"live/{env}/{unit}: {sorted(providers)}"
    return providers[AWS_PROVIDER]


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def satisfies(version: str, constraint: str) -> bool:
    """`version` meets every `>=`, `>`, `<`, `<=`, `=` clause of a Terraform constraint."""
    compare = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "=": lambda a, b: a == b,
    }
    clauses = [clause.strip() for clause in constraint.split(",")]
    parsed = [re.fullmatch(r"(>=|>|<=|<|=)\s*([\d.]+)", clause) for clause in clauses]
    assert all(parsed), f"the tests read only simple constraints: {constraint!r}"
    return all(
        compare[m[1]](version_tuple(version), version_tuple(m[2])) for m in parsed if m is not None
    )


@pytest.mark.parametrize(("env", "unit"), all_units())
def test_every_unit_commits_a_provider_lock_with_checksums(env: str, unit: str) -> None:
    lock = provider_lock(env, unit)
    constraint = aws_provider_constraint(source_module(env, unit))
    assert satisfies(lock["version"], constraint), f"{lock['version']} is not {constraint}"
    hashes = lock["hashes"]
    assert hashes, f"live/{env}/{unit}: the lock holds no checksum"
    assert all(re.fullmatch(r"(h1:[A-Za-z0-9+/]{43}=|zh:[0-9a-f]{64})", h) for h in hashes)
    assert any(h.startswith("h1:") for h in hashes), "init verifies an installed provider by h1"


@pytest.mark.parametrize("unit", sorted(units("dev")))
def test_dev_and_prod_lock_the_same_provider_build(unit: str) -> None:
    assert (LIVE / "dev" / unit / LOCK_FILE).read_text() == (
        LIVE / "prod" / unit / LOCK_FILE
    ).read_text()


def test_every_unit_locks_one_and_the_same_aws_provider_version() -> None:
    versions = {provider_lock(env, unit)["version"] for env, unit in all_units()}
    assert len(versions) == 1, versions


# --- the web bucket's writers and disposable users ------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bucket_b_admits_the_role_the_function_runs_as(env: str) -> None:
    """The buckets unit builds the writer's ARN from a name; it must be the exif-lambda
    module's role name for the exif-lambda unit's `name_prefix`, or the web bucket refuses the
    function."""
    resources = load(MODULES / "exif-lambda" / "iam.tf")["resource"]
    (role,) = [entry["aws_iam_role"]["this"] for entry in resources if "aws_iam_role" in entry]
    role_name_template = role["name"]
    name_prefix = Resolver(env, "exif-lambda").value(
        unit_config(env, "exif-lambda")["inputs"]["name_prefix"]
    )
    expected = role_name_template.replace("${var.name_prefix}", name_prefix)
    assert "${" not in expected, role_name_template
    writer = Resolver(env, "buckets").value(
        unit_config(env, "buckets")["inputs"]["writer_role_name"]
    )
    assert writer == expected


def test_the_users_module_hands_force_destroy_to_both_users() -> None:
    """The module's side of the wiring; what the provider then deletes with a user (keys,
    login profile, MFA devices, ...) cannot be exercised on the embedded AWS, whose
    ListServiceSpecificCredentials fails (tools/terraform/exif_stack/main.tf)."""
    resources = load(MODULES / "iam-users" / "main.tf")["resource"]
    (users,) = [entry["aws_iam_user"]["this"] for entry in resources if "aws_iam_user" in entry]
    assert users["force_destroy"] == "${var.force_destroy}"
    (variable,) = [
        v
        for n, v in module_blocks(MODULES / "iam-users", "variable").items()
        if n == "force_destroy"
    ]
    assert variable["default"] is False, "only disposable environments turn it on"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_users_are_force_destroyed_exactly_in_disposable_environments(env: str) -> None:
    inputs = unit_config(env, "iam-users")["inputs"]
    assert inputs["force_destroy"] == "${local.env.disposable}"
    assert Resolver(env, "iam-users").value(inputs["force_destroy"]) is (env == "dev")
