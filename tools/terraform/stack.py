"""Apply and destroy a Terraform root module against the embedded AWS, timing each step.

The Terraform work itself is pytest-terraform's ``TerraformRunner`` (init, plan + apply,
destroy, state parsing). We drive the runner from our own fixture instead of the plugin's
``@terraform(...)`` fixture decorator, which does run on pytest 9 but does not fit a
stack on an emulator that lives only as long as a fixture:

* with pytest-xdist installed (a dependency of pytest-terraform) the plugin destroys
  module-scoped stacks from a ``pytest_runtest_teardown`` hook, outside any fixture, so
  nothing can be ordered after the destroy: not the check that it left nothing behind,
  not a timing, and the emulator's shutdown only by accident of hook order;
* ``teardown=OFF`` is ignored on that path, so the fixture cannot destroy it itself;
* it writes a replay file (``tf_resources.json``) into the source tree on every run.

The runner takes variables only from the environment (``TF_VAR_*``) and reads it from
``os.environ``; we set ours only around each Terraform command, so nothing leaks into the
tests. (It still passes ``-state``, which Terraform 1.11 accepts with a deprecation
warning.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from pytest_terraform.tf import LazyTfBin, TerraformRunner  # type: ignore[import-untyped]


@dataclass
class StackTimings:
    """Wall-clock seconds of each Terraform step."""

    init: float = 0.0
    apply: float = 0.0  # plan + apply, as `terraform apply` does
    destroy: float = 0.0


@dataclass
class TerraformStack:
    """One root module, one state, one working directory.

    ``env`` is the complete environment of every Terraform command (CLI config, provider
    credentials, ``TF_VAR_*``); ``work_dir`` holds ``.terraform`` and, next to it, the
    state. Terraform writes its lock file into ``module_dir``: pass a ``scratch_copy``.
    """

    module_dir: Path
    work_dir: Path
    env: Mapping[str, str]
    timings: StackTimings = field(default_factory=StackTimings)
    outputs: dict[str, Any] = field(default_factory=dict)
    """The root module's outputs after apply(), as plain values."""
    _runner: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        tf_bin = _terraform_binary()
        self._runner = TerraformRunner(
            str(self.work_dir), module_dir=str(self.module_dir), tf_bin=tf_bin
        )

    def init(self) -> None:
        """``terraform init`` (providers from the CLI config's mirror or the registry)."""
        start = time.monotonic()
        with self._environment():
            self._runner.init()
        self.timings.init = time.monotonic() - start

    def apply(self) -> dict[str, Any]:
        """Plan and apply; return the root module's outputs as plain values.

        On failure the runner destroys what was created before raising.
        """
        start = time.monotonic()
        with self._environment():
            state = self._runner.apply()
        self.timings.apply = time.monotonic() - start
        self.outputs = _output_values(state)
        return self.outputs

    def show_plan(self) -> dict[str, Any]:
        """The plan of the last apply as ``terraform show -json`` prints it: what Terraform
        sent, for settings the emulator accepts but does not store."""
        env = {**self.env, "TF_DATA_DIR": str(self.work_dir)}
        plan = self.work_dir / "tfplan"  # where TerraformRunner.apply() saves it
        result = subprocess.run(
            [self._runner.tf_bin, "show", "-json", "-no-color", str(plan)],
            cwd=self.module_dir,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def destroy(self) -> None:
        """``terraform destroy``: every resource of the state goes."""
        start = time.monotonic()
        with self._environment():
            self._runner.destroy()
        self.timings.destroy = time.monotonic() - start

    @contextmanager
    def _environment(self) -> Iterator[None]:
        with mock.patch.dict(os.environ, self.env, clear=True):
            yield


REPO_ROOT = Path(__file__).resolve().parents[2]


def scratch_copy(dest: Path, *dirs: str) -> Path:
    """Copy ``dirs`` (relative to the repository root, e.g. "modules") to ``dest`` with the
    same layout, and return ``dest``. Terraform writes its lock file next to the code it
    runs; running a copy keeps the working tree clean and concurrent runs apart, while
    relative module sources ("../../../modules/x") still resolve."""
    for relative in dirs:
        shutil.copytree(
            REPO_ROOT / relative,
            dest / relative,
            ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
        )
    return dest


def _terraform_binary() -> str:
    """pytest-terraform's --tf-binary when given, else terraform (or tofu) on PATH."""
    configured = LazyTfBin.value
    found = configured or shutil.which("terraform") or shutil.which("tofu")
    if not found:
        raise FileNotFoundError("terraform is not on PATH (or pass --tf-binary)")
    return str(found)


def _output_values(state: Any) -> dict[str, Any]:
    outputs: Mapping[str, Mapping[str, Any]] = state.outputs
    return {name: output["value"] for name, output in outputs.items()}
