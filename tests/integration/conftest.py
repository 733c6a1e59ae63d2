"""Fixtures of the integration tests: the embedded AWS, Terraform's CLI configuration, and a
report section that ``make test`` prints after the results (timings, permission matrix)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.embedded_aws.emulator import EmbeddedAws
from tools.terraform.cli_config import write_cli_config

_REPORT = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def terraform_cli_config() -> Path:
    """The generated Terraform CLI configuration (provider mirror or registry)."""
    return write_cli_config()


@pytest.fixture(scope="module")
def embedded_aws() -> Iterator[EmbeddedAws]:
    """A fresh moto server per test module, so one module's leftovers never meet
    another's assertions."""
    with EmbeddedAws() as aws:
        yield aws


@pytest.fixture(scope="session")
def report_lines(pytestconfig: pytest.Config) -> list[str]:
    """Lines for the "embedded AWS" section of the terminal summary; tests append to it
    what a reviewer wants to see even when everything passes."""
    return pytestconfig.stash.setdefault(_REPORT, [])


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    lines = config.stash.get(_REPORT, [])
    if lines:
        terminalreporter.section("embedded AWS")
        for line in lines:
            terminalreporter.write_line(line)
