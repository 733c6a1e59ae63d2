"""Pixel work stays within a memory budget, and the estimates it is checked against hold.

The budget follows from the Lambda's memory (or PIXEL_BUDGET_MB); threads share it. The
estimates are held to real peaks measured in a child process (VmHWM, reset just before
the work): a measurement of a bound at moderate sizes, not a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from exif_stripper.aws.settings import DEFAULT_BATCH_THREADS
from exif_stripper.core import budget, transform
from exif_stripper.core.budget import MiB, default_pixel_budget, derived_budget
from exif_stripper.core.errors import TooLarge
from tools.bench import turns
from tools.samples.jpeg import base_jpeg, photo_image

# --- the budget from the environment -----------------------------------------------------------


def test_the_lambda_budget_is_its_memory_less_the_runtime_and_the_records_beside_it() -> None:
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"}
    expected = 2048 * MiB - budget.RUNTIME_BYTES - DEFAULT_BATCH_THREADS * budget.RECORD_BYTES
    assert default_pixel_budget(env) == expected
    assert derived_budget(2048) == expected


def test_fewer_records_in_flight_leave_more_for_pixel_work() -> None:
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "BATCH_THREADS": "2"}
    assert default_pixel_budget(env) == 1024 * MiB - budget.RUNTIME_BYTES - 2 * budget.RECORD_BYTES


def test_a_function_too_small_for_pixel_work_has_none() -> None:
    assert default_pixel_budget({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}) == 0


def test_pixel_budget_mb_overrides_the_derived_budget() -> None:
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048", "PIXEL_BUDGET_MB": "300"}
    assert default_pixel_budget(env) == 300 * MiB


def test_outside_the_lambda_the_budget_is_the_production_functions() -> None:
    assert default_pixel_budget({}) == derived_budget(budget.CLI_MEMORY_MB)
    assert budget.CLI_MEMORY_MB == 2048  # live/prod/env.hcl: lambda_memory_size


@pytest.mark.parametrize("name", ["PIXEL_BUDGET_MB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
@pytest.mark.parametrize("value", ["0", "-5", "1.5", "lots", "2 GB"])
def test_a_setting_that_is_not_a_number_of_mib_names_itself(name: str, value: str) -> None:
    with pytest.raises(budget.BudgetError, match=f"{name} must be a whole number of MiB"):
        default_pixel_budget({name: value})


def test_a_wrong_batch_threads_leaves_the_default_config_py_reports_it() -> None:
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048", "BATCH_THREADS": "many"}
    assert default_pixel_budget(env) == derived_budget(2048)


# --- what a picture costs ------------------------------------------------------------------------


def test_a_200_megapixel_phone_photo_fits_the_production_budget_and_not_dev() -> None:
    # Samsung's 200 MP sensor: 16,320 x 12,240, 4:2:0, about 50 MB; orientation 6 is a
    # lossless turn (whole MCUs), which holds two sets of coefficients.
    frame = turns.Frame(0xC0, 16_320, 12_240, ((1, 2, 2), (2, 1, 1), (3, 1, 1)))
    cost = budget.lossless_work_bytes(frame, 6, 50_000_000)
    assert cost <= derived_budget(2048)
    assert cost > derived_budget(1024)


def test_the_bound_for_any_sampling_covers_the_sharper_estimates() -> None:
    width, height = 4000, 3000
    for components, layouts in ((1, [((1, 1, 1),)]), (3, _three), (4, _four)):
        bound = budget.pixel_work_bytes(width, height, components)
        for layout in layouts:
            frame = turns.Frame(0xC2, width, height, layout)
            for orientation in range(2, 9):
                assert budget.lossless_work_bytes(frame, orientation, 0) <= bound
            samples_per_pixel = sum(h * v for _, h, v in layout) / (
                max(h for _, h, _ in layout) * max(v for _, _, v in layout)
            )
            reencoding = budget.reencode_work_bytes(
                width,
                height,
                components,
                source_samples=samples_per_pixel,
                progressive=True,
                compressed=0,
            )
            assert reencoding <= bound


_three = [((1, h, v), (2, 1, 1), (3, 1, 1)) for h, v in ((1, 1), (2, 1), (2, 2), (4, 1), (1, 2))]
_four = [((1, 1, 1),) * 4, ((1, 2, 2), (2, 1, 1), (3, 1, 1), (4, 2, 2))]


# --- threads share the budget --------------------------------------------------------------------


def test_work_that_can_never_fit_is_refused_at_once() -> None:
    with (
        pytest.raises(TooLarge, match=r"needs about 200 MiB .* than the 100 MiB budget"),
        budget.reserve(200 * MiB, 100 * MiB),
    ):
        pytest.fail("ran")


def test_work_that_does_not_fit_beside_other_work_waits_for_it() -> None:
    log: list[str] = []
    first_running = threading.Event()

    def first() -> None:
        with budget.reserve(60 * MiB, 100 * MiB):
            log.append("first starts")
            first_running.set()
            time.sleep(0.2)
            log.append("first ends")

    thread = threading.Thread(target=first)
    thread.start()
    first_running.wait()
    with budget.reserve(60 * MiB, 100 * MiB):
        log.append("second starts")
    thread.join()
    assert log == ["first starts", "first ends", "second starts"]


def test_work_that_fits_beside_other_work_runs_at_once() -> None:
    with budget.reserve(40 * MiB, 100 * MiB), budget.reserve(40 * MiB, 100 * MiB):
        pass  # would wait forever if the second waited for the first


def test_work_that_fails_gives_its_share_back() -> None:
    with pytest.raises(RuntimeError), budget.reserve(90 * MiB, 100 * MiB):
        raise RuntimeError("decoding failed")
    with budget.reserve(90 * MiB, 100 * MiB):
        pass


@pytest.mark.timeout(120)  # a hang guard: a share never given back would block for ever
def test_turns_in_threads_that_fit_the_budget_only_one_at_a_time_all_finish() -> None:
    # Each turn fits the budget alone, not two together: they wait for each other.
    items = [turns.photo("4:2:0", 90, (333, 250), orientation) for orientation in (3, 6, 7, 8)]
    alone = budget.reencode_work_bytes(
        333, 250, 3, source_samples=1.5, progressive=False, compressed=len(items[0].jpeg)
    )
    limit = alone * 3 // 2
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda item: transform.make_upright(
                    item.jpeg, item.orientation, turns.frame_of(item.jpeg), budget=limit
                ),
                items,
            )
        )
    assert [r.method for r in results] == [transform.Method.REENCODE] * 4


# --- the estimates against real peaks ---------------------------------------------------------

_MEASURE = textwrap.dedent(
    """
    import io, json, sys
    from PIL import Image
    from exif_stripper.core import budget, transform
    from tools.bench import turns

    reserved = []
    real_reserve = budget.reserve

    def recording(cost, limit):
        reserved.append(cost)
        return real_reserve(cost, limit)

    def peak():
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) * 1024

    def run(data, orientation, fallback):
        if fallback:
            transform.reencode_from_pixels(
                data, orientation=orientation, icc_profile=None, budget=1 << 40
            )
            return "fallback"
        frame = turns.frame_of(data)
        return transform.make_upright(data, orientation, frame, budget=1 << 40).method.value

    mode, orientation, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = sys.stdin.buffer.read()
    small = io.BytesIO()
    Image.new("RGB", (64, 48)).save(small, "JPEG")
    run(small.getvalue(), 6, mode == "fallback")  # load the libraries first
    budget.reserve = recording
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM: what follows is measured alone
    before = peak()
    try:
        if limit:
            budget.reserve = real_reserve
            transform.make_upright(data, orientation, turns.frame_of(data), budget=limit)
            outcome = "done"
        else:
            outcome = run(data, orientation, mode == "fallback")
    except Exception as error:
        outcome = type(error).__name__
    print(json.dumps({"outcome": outcome, "added": peak() - before, "reserved": reserved}))
    """
)


@dataclass(frozen=True)
class Measured:
    outcome: str
    added: int  # peak RSS added by the work, bytes
    reserved: list[int]  # what the work reserved from the budget


def measure(data: bytes, orientation: int, *, fallback: bool = False, limit: int = 0) -> Measured:
    """Run the work in a fresh process; its peak, and the estimates it was checked against."""
    mode = "fallback" if fallback else "turn"
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, mode, str(orientation), str(limit)],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return Measured(**json.loads(out))


# 4 MP: the pixels outweigh what every process allocates anyway, and it stays quick.
WHOLE = (2304, 1728)  # whole MCUs for every layout
ODD = (2301, 1727)


def _camera(size: tuple[int, int], layout: turns.Layout = "4:2:0", *, quality: int = 90) -> bytes:
    return turns.encode(photo_image(*size, seed=2, noise=8), layout, quality)


@pytest.mark.parametrize(
    ("layout", "size", "orientation", "method"),
    [
        ("4:2:0", WHOLE, 6, "lossless"),
        ("4:4:4", WHOLE, 3, "lossless"),
        ("4:2:0", ODD, 6, "reencode"),
        ("4:4:4", ODD, 2, "reencode"),
        ("CMYK", ODD, 8, "reencode"),
    ],
)
def test_the_peak_of_a_turn_stays_within_its_estimate(
    layout: turns.Layout, size: tuple[int, int], orientation: int, method: str
) -> None:
    data = _camera(size, layout)
    components = 4 if layout == "CMYK" else 3
    measured = measure(data, orientation)
    assert measured.outcome == method
    assert 0 < measured.added <= measured.reserved[-1]
    bound = budget.pixel_work_bytes(*size, components) + budget.compressed_work_bytes(len(data))
    assert measured.reserved[-1] <= bound


def test_the_peak_of_the_fallback_stays_within_its_estimate() -> None:
    data = _camera(ODD, quality=95)
    truncated = data[: len(data) * 2 // 3]
    measured = measure(truncated, 6, fallback=True)
    assert measured.outcome == "fallback"
    assert 0 < measured.added <= measured.reserved[-1]
    bound = budget.pixel_work_bytes(*ODD, 3) + budget.compressed_work_bytes(len(truncated))
    assert measured.reserved[-1] <= bound


@pytest.mark.parametrize(
    ("size", "memory_mb"),
    [
        ((20_000, 12_000), 1024),  # whole MCUs: a lossless turn, 1.4 GB of coefficients
        ((20_001, 12_001), 2048),  # a re-encode: decoded and turned, 1.9 GB of pixels
    ],
)
def test_a_small_file_that_declares_240_megapixels_is_refused_without_allocating(
    size: tuple[int, int], memory_mb: int
) -> None:
    bomb = turns.declaring(base_jpeg(64, 48), *size)
    measured = measure(bomb, 6, limit=derived_budget(memory_mb))
    assert measured.outcome == "TooLarge"
    assert measured.added < 16 * MiB
