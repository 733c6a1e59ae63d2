"""Render the modules' ``policies/*.json.tftpl`` templates in Python.

The modules render these files with Terraform's ``templatefile()``; the tests render the
very same files here and compare the result with what the embedded AWS holds. That only
works while the templates stay in the subset both languages read the same way: JSON with
``${name}`` placeholders and nothing else (no ``%{...}`` directives, no ``$`` that does not
open a placeholder). ``render_template`` refuses anything outside that subset.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MODULES_DIR = Path(__file__).resolve().parents[2] / "modules"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateError(ValueError):
    """A template uses Terraform template syntax that Python would render differently."""


def template_path(module: str, name: str) -> Path:
    """``modules/<module>/policies/<name>.json.tftpl``."""
    return MODULES_DIR / module / "policies" / f"{name}.json.tftpl"


def placeholders(text: str) -> set[str]:
    """The variable names a template uses."""
    return set(_PLACEHOLDER.findall(text))


def render_template(path: Path, variables: Mapping[str, object]) -> str:
    """The template at ``path`` with every ``${name}`` replaced by ``variables[name]``.

    Raises TemplateError for directives or bare ``$``, and KeyError for a missing variable.
    """
    text = path.read_text()
    if "%{" in text:
        raise TemplateError(f"{path}: template directives (%{{...}}) are not supported")
    if text.count("$") != len(_PLACEHOLDER.findall(text)):
        raise TemplateError(f"{path}: every '$' must open a ${{name}} placeholder")
    return string.Template(text).substitute({k: str(v) for k, v in variables.items()})


def load_policy(module: str, name: str, **variables: object) -> dict[str, Any]:
    """The rendered template parsed as JSON (a policy document, a lifecycle policy...)."""
    document: dict[str, Any] = json.loads(render_template(template_path(module, name), variables))
    return document
