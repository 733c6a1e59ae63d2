"""The README tables generator (.ci/hooks/module_docs.py): what `make docs` writes and what
`make lint` refuses, on a module made up for the test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("module_docs", ROOT / ".ci/hooks/module_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


docs = load_generator()

VARIABLES = """
variable "name_prefix" {
  description = "Start of every name: \\"<name_prefix>-x\\"."
  type        = string
}

variable "retention" {
  description = "Days | kept."
  type        = number
  default     = 7
}

variable "kms_key_arn" {
  description = "A key, or null."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
"""

OUTPUTS = """
output "queue_url" {
  description = "URL of the queue."
  value       = "x"
}
"""

README = """# thing

Prose the author wrote.

<!-- BEGIN_TF_DOCS -->
stale
<!-- END_TF_DOCS -->

More prose after the tables.
"""


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    module = tmp_path / "modules" / "thing"
    (module / "examples" / "complete").mkdir(parents=True)
    (module / "variables.tf").write_text(VARIABLES)
    (module / "outputs.tf").write_text(OUTPUTS)
    (module / "README.md").write_text(README)
    (module / "examples" / "complete" / "README.md").write_text(README)
    return tmp_path / "modules"


def test_make_docs_writes_the_tables_between_the_markers(modules: Path) -> None:
    assert docs.main([], modules) == 0
    text = (modules / "thing" / "README.md").read_text()
    assert text.startswith("# thing\n\nProse the author wrote.\n\n<!-- BEGIN_TF_DOCS -->\n")
    assert text.endswith("<!-- END_TF_DOCS -->\n\nMore prose after the tables.\n")
    assert "| `name_prefix` | `string` | required | Start of every name: " in text
    assert '"&lt;name_prefix&gt;-x".' in text
    assert "| `retention` | `number` | `7` | Days \\| kept. |" in text
    assert "| `kms_key_arn` | `string` | `null` | A key, or null. |" in text
    assert "| `tags` | `map(string)` | `{}` | Tags. |" in text
    assert "| `queue_url` | URL of the queue. |" in text
    example = (modules / "thing" / "examples" / "complete" / "README.md").read_text()
    assert "## Inputs\n\nNone.\n\n## Outputs\n\nNone.\n" in example


def test_check_fails_on_a_stale_readme_and_passes_once_written(
    modules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert docs.main(["--check"], modules) == 1
    assert "out of date: run `make docs`" in capsys.readouterr().err
    assert (modules / "thing" / "README.md").read_text() == README  # --check writes nothing
    docs.main([], modules)
    assert docs.main(["--check"], modules) == 0
    variables = modules / "thing" / "variables.tf"
    variables.write_text(variables.read_text().replace("Days | kept.", "Days kept."))
    assert docs.main(["--check"], modules) == 1


def test_a_readme_without_markers_is_an_error(modules: Path) -> None:
    (modules / "thing" / "README.md").write_text("# thing\n")
    with pytest.raises(SystemExit, match="needs one <!-- BEGIN_TF_DOCS -->"):
        docs.main([], modules)
