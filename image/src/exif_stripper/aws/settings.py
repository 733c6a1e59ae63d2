"""The processor's settings, read from the environment and checked at cold start.

A wrong setting fails the first invocation with a message that names the variable, not
the hundredth object with a confusing S3 error. The Terraform module `exif-lambda` sets
these variables; the local worker reads the same ones (its flags override them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

from ..core.budget import BudgetError, default_pixel_budget
from ..core.sanitize import DEFAULT_MAX_BYTES, DamagedPolicy, Options, OrientationPolicy

_Policy = TypeVar("_Policy", bound=StrEnum)
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Records of one SQS batch processed at once. The work is mostly waiting on S3, so threads
# overlap it; the default is measured (docs/capacity.md, `make bench`'s e2e section).
DEFAULT_BATCH_THREADS: Final = 10
# As the exif-lambda module's batch_threads allows. Each thread holds up to two S3
# connections (the source's body while the copy is sent): the clients' pool has
# 2 x MAX_BATCH_THREADS (clients.py).
MAX_BATCH_THREADS: Final = 64


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class Settings:
    uploads_bucket: str
    web_bucket: str
    orientation: OrientationPolicy = OrientationPolicy.APPLY
    damaged: DamagedPolicy = DamagedPolicy.REENCODE
    max_bytes: int = DEFAULT_MAX_BYTES
    # Bytes that turning or re-encoding may take (budget.py); None: the default, read when
    # the work starts. From the environment it is resolved at cold start, so a bad
    # PIXEL_BUDGET_MB or function memory fails then.
    pixel_budget: int | None = None
    log_level: str = "INFO"
    batch_threads: int = DEFAULT_BATCH_THREADS

    def __post_init__(self) -> None:
        if not self.uploads_bucket or not self.web_bucket:
            raise ConfigError("UPLOADS_BUCKET and WEB_BUCKET must both be set")
        if self.uploads_bucket == self.web_bucket:
            # Writing into the bucket we read from would trigger ourselves forever, and
            # would overwrite the originals.
            raise ConfigError(
                f"UPLOADS_BUCKET and WEB_BUCKET are the same bucket ({self.uploads_bucket!r}); "
                "the processor refuses to start"
            )
        if self.max_bytes <= 0:
            raise ConfigError("MAX_BYTES must be positive")
        if self.pixel_budget is not None and self.pixel_budget < 0:
            raise ConfigError("the pixel budget cannot be negative")
        if not 1 <= self.batch_threads <= MAX_BATCH_THREADS:
            raise ConfigError(f"BATCH_THREADS must be between 1 and {MAX_BATCH_THREADS}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")

    @property
    def sanitizer(self) -> Options:
        return Options(
            self.orientation,
            damaged=self.damaged,
            max_bytes=self.max_bytes,
            pixel_budget=self.pixel_budget,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            uploads_bucket=env.get("UPLOADS_BUCKET", ""),
            web_bucket=env.get("WEB_BUCKET", ""),
            orientation=_choice(env, "ORIENTATION_POLICY", OrientationPolicy),
            damaged=_choice(env, "DAMAGED_POLICY", DamagedPolicy),
            max_bytes=_integer(env, "MAX_BYTES", DEFAULT_MAX_BYTES),
            pixel_budget=_pixel_budget(env),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            batch_threads=_integer(env, "BATCH_THREADS", DEFAULT_BATCH_THREADS),
        )


def _choice(env: Mapping[str, str], name: str, policy: type[_Policy]) -> _Policy:
    """A policy by its value; unset means the first one (the default)."""
    value = env.get(name) or next(iter(policy)).value
    try:
        return policy(value)
    except ValueError:
        choices = ", ".join(choice.value for choice in policy)
        raise ConfigError(f"{name} must be one of {choices}, not {value!r}") from None


def _pixel_budget(env: Mapping[str, str]) -> int:
    """PIXEL_BUDGET_MB, or the budget derived from the function's memory (budget.py)."""
    try:
        return default_pixel_budget(env)
    except BudgetError as error:
        raise ConfigError(str(error)) from None


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {text!r}") from None
