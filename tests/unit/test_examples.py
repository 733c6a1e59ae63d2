"""Each module's examples/complete, read with python-hcl2 (the `terraform validate` hook
validates them): it calls its module with every input and outputs every output, and the
disposable test stack wires the modules to each other exactly as the examples do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "modules"
STACK = ROOT / "tools" / "terraform" / "exif_stack"
NAMES = sorted(path.parent.name for path in MODULES.glob("*/versions.tf"))
FILES = {"main.tf", "versions.tf", "variables.tf", "outputs.tf", "README.md"}

HCL = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, preserve_heredocs=False, with_comments=False
)


def blocks(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    """The labeled blocks of one kind (`module "x"`, `variable "y"`) of a root or module."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in hcl2.loads(path.read_text(), serialization_options=HCL).get(kind, []):
            found.update(entry)
    return found


def calls(directory: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Each module call of a root: its name, the module it calls and its arguments."""
    return {
        name: ((directory / body["source"]).resolve(), body)
        for name, body in blocks(directory, "module").items()
    }


def example(module: str) -> Path:
    return MODULES / module / "examples" / "complete"


def own_call(module: str) -> dict[str, Any]:
    (body,) = [body for path, body in calls(example(module)).values() if path.name == module]
    return body


@pytest.mark.parametrize("module", NAMES)
def test_every_module_has_a_complete_example(module: str) -> None:
    assert {path.name for path in example(module).iterdir()} >= FILES


@pytest.mark.parametrize("module", NAMES)
def test_the_example_sets_every_input_of_its_module(module: str) -> None:
    variables = set(blocks(MODULES / module, "variable"))
    arguments = set(own_call(module)) - {"source"}
    assert variables - arguments == set(), f"examples/complete leaves {variables - arguments}"
    assert arguments - variables == set(), f"examples/complete passes {arguments - variables}"


@pytest.mark.parametrize("module", NAMES)
def test_the_example_outputs_every_output_of_its_module(module: str) -> None:
    (name,) = [name for name, (path, _) in calls(example(module)).items() if path.name == module]
    outputs = blocks(example(module), "output")
    for output in blocks(MODULES / module, "output"):
        assert outputs[output]["value"] == f"${{module.{name}.{output}}}", output


# Where the test stack wires differently, and why.
DIFFERENT = {
    # moto neither pulls nor runs the image, so the stack names a tag of its own repository
    # that was never pushed; on AWS the image is pushed between the two (the example takes it).
    ("exif_lambda", "image_uri"),
}


def wiring(value: object) -> bool:
    """Whether an argument connects modules: another module's output, or the role name that
    the buckets take from the exif-lambda module's naming."""
    return "module." in str(value) or "-execution" in str(value)


def test_the_test_stack_wires_the_modules_as_the_examples_do() -> None:
    """Every input the test stack takes from another module, the examples pass alike, under
    the same module names; the stack's extra bucket pairs (hardened, guarded) as `buckets`."""
    wired = {
        (name, argument): value
        for module in NAMES
        for name, (_, body) in calls(example(module)).items()
        for argument, value in body.items()
        if wiring(value)
    }
    (stack_locals,) = hcl2.loads((STACK / "main.tf").read_text(), serialization_options=HCL)[
        "locals"
    ]
    checked = set()
    for name, (path, body) in calls(STACK).items():
        assert path.parent == MODULES, f"the test stack's {name} is not one of modules/"
        as_in_examples = "buckets" if name.startswith("buckets_") else name
        for argument, expression in body.items():
            value = str(expression)
            if value.startswith("${local.") and value.endswith("}"):
                value = str(stack_locals[value.removeprefix("${local.").removesuffix("}")])
            if not wiring(value) or (name, argument) in DIFFERENT:
                continue
            assert wired.get((as_in_examples, argument)) == value, (name, argument, value)
            checked.add((as_in_examples, argument))
    assert checked == set(wired), set(wired) - checked
