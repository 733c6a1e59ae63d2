"""Input and output tables of each Terraform module's README, from its variables and outputs.

    python .ci/hooks/module_docs.py           # write the tables (`make docs`)
    python .ci/hooks/module_docs.py --check   # exit 1 when a README is out of date (`make lint`)

Every README.md of a module (modules/<name>/) and of its examples (modules/<name>/examples/<x>/)
holds the tables between two marker lines; the text around them is the author's. The tables
list variables and outputs in the order of their files (sorted by file name), as declared.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "modules"

# Strings without their quotes, expressions as "${...}", blocks as {label: body}.
_HCL = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, preserve_heredocs=False, with_comments=False
)


def module_dirs(modules: Path) -> Iterator[Path]:
    """Every module and every example of a module."""
    for module in sorted(modules.iterdir()):
        if (module / "variables.tf").is_file() or (module / "outputs.tf").is_file():
            yield module
        yield from sorted(module.glob("examples/*/"))


def blocks(directory: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """The `variable` or `output` blocks of a module, in file and declaration order."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(directory.glob("*.tf")):
        document = hcl2.loads(path.read_text(), serialization_options=_HCL)
        for entry in document.get(kind, []):
            found.extend(entry.items())
    return found


def _expression(value: str) -> str:
    """`string` for "${string}": python-hcl2 wraps expressions (types, references)."""
    return value[2:-1] if value.startswith("${") and value.endswith("}") else value


def _default(body: dict[str, Any]) -> str:
    if "default" not in body:
        return "required"
    value = body["default"]
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f"`{_expression(value)}`" if value.startswith("${") else f"`{json.dumps(value)}`"
    return f"`{json.dumps(value, separators=(', ', ' = ') if isinstance(value, dict) else None)}`"


def _cell(text: str) -> str:
    # A bare <name> would be taken for an HTML tag and not shown.
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"\s*\n\s*", " ", text).replace("|", "\\|").strip()


def tables(directory: Path) -> str:
    """The generated part of a README: its Inputs and Outputs sections."""
    lines = ["## Inputs", ""]
    variables = blocks(directory, "variable")
    if variables:
        lines += ["| Name | Type | Default | Description |", "|---|---|---|---|"]
        for name, body in variables:
            kind = _expression(str(body.get("type", "any")))
            description = _cell(str(body.get("description", "")))
            lines.append(f"| `{name}` | `{kind}` | {_default(body)} | {description} |")
    else:
        lines.append("None.")
    lines += ["", "## Outputs", ""]
    outputs = blocks(directory, "output")
    if outputs:
        lines += ["| Name | Description |", "|---|---|"]
        lines += [f"| `{n}` | {_cell(str(b.get('description', '')))} |" for n, b in outputs]
    else:
        lines.append("None.")
    return "\n".join(lines)


def rendered(readme: Path) -> str:
    """The README with its tables as the module declares them now."""
    text = readme.read_text()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"{readme}: needs one {BEGIN} ... {END} pair")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{tables(readme.parent)}\n{END}{tail}"


def main(argv: list[str] | None = None, modules: Path = MODULES) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale READMEs")
    args = parser.parse_args(argv)
    stale = 0
    for directory in module_dirs(modules):
        readme = directory / "README.md"
        if not readme.is_file():
            print(f"{readme.relative_to(modules.parent)}: missing", file=sys.stderr)
            stale += 1
            continue
        current, wanted = readme.read_text(), rendered(readme)
        if current == wanted:
            continue
        stale += 1
        if args.check:
            name = str(readme.relative_to(modules.parent))
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    name,
                    f"{name} (generated)",
                )
            )
        else:
            readme.write_text(wanted)
            print(f"wrote {readme.relative_to(modules.parent)}")
    if args.check and stale:
        print(f"{stale} README(s) out of date: run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
