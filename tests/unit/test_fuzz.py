"""The fuzzer's properties over the whole sanitizer, in a short fixed-seed pass.

`make fuzz SECONDS=n` runs the same oracle (tools/fuzz/properties.py) under atheris for
as long as you like; `make test` runs this: every seed as it is, then five hundred
mutations drawn with a fixed seed for each damage policy, so a run is repeatable and
stays under a minute.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from exif_stripper.core.sanitize import DamagedPolicy, Options, OrientationPolicy
from tools.fuzz import properties
from tools.fuzz.seeds import jpeg_seeds, png_and_webp_seeds, seeds
from tools.samples.damage import in_scan

SEEDS = seeds()


@pytest.mark.parametrize("name", SEEDS)
@pytest.mark.parametrize("policy", list(OrientationPolicy))
def test_every_seed_passes_the_oracle(name: str, policy: OrientationPolicy) -> None:
    assert properties.check(SEEDS[name], Options(policy)) is not None


JPEG_SEEDS = sorted(jpeg_seeds())
PNG_AND_WEBP_SEEDS = sorted(png_and_webp_seeds())


def _mutation_property(
    damaged: DamagedPolicy, names: list[str] = JPEG_SEEDS, examples: int = 500
) -> Callable[..., None]:
    @seed(20261130)
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(name=st.sampled_from(names), rng=st.randoms(use_true_random=False))
    def check(name: str, rng: random.Random) -> None:
        data = properties.mutate(SEEDS[name], rng)
        properties.check(data, Options(properties.policy_for(data), damaged=damaged))

    return check


def test_any_mutation_gives_a_typed_rejection_or_a_lossless_output_that_keeps_every_promise() -> (
    None
):
    _mutation_property(DamagedPolicy.REJECT)()


def test_any_mutation_gives_a_typed_rejection_or_an_output_re_encoded_if_need_be() -> None:
    _mutation_property(DamagedPolicy.REENCODE)()


def test_any_mutation_of_a_png_or_webp_gives_a_typed_rejection_or_a_verified_output() -> None:
    # (The damage policy is the JPEG's: PNG and WebP are never re-encoded for damage.)
    _mutation_property(DamagedPolicy.REENCODE, PNG_AND_WEBP_SEEDS, 400)()


def test_the_atheris_target_runs_the_same_oracle() -> None:
    atheris = pytest.importorskip("atheris")
    del atheris
    from tools.fuzz import atheris_target

    for data in SEEDS.values():
        atheris_target.test_one_input(data)


def test_the_leak_check_finds_dropped_bytes_copied_into_image_data() -> None:
    # The oracle must be able to fail: an output whose scan carries EXIF bytes is caught.
    from exif_stripper.core.sanitize import Removed, sanitize_bytes
    from tools.fuzz.leaks import leaked_runs

    data = SEEDS["baseline with EXIF"]
    removed: list[Removed] = []
    clean = sanitize_bytes(data, on_removed=removed.append).jpeg
    exif = next(item for item in removed if item.kind == "EXIF")
    stolen = data[exif.offset + 40 : exif.offset + 72].replace(b"\xff", b"\x00")
    dirty = in_scan(clean, stolen)
    assert leaked_runs(data, clean, removed) == []
    assert leaked_runs(data, dirty, removed) != []
