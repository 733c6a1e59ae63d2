"""`make bench`: how fast, how lean, against what a user would otherwise run.

Sections (all by default; `--only NAME` for one):
  sanitizer  in-process MB/s and images/s over a corpus, beside a Pillow re-encode,
             `exiftool -all=` and `jpegtran -copy icc` run on the same files
  cli        `exif-stripper strip DIR OUT` against `cp -r DIR OUT`
  rotation   photos that need turning: ours against `jpegtran -perfect -rotate 90`
  memory     peak RSS added while streaming a ~200 MB JPEG, and time per MB at 3 sizes
  icc        cleaning an ICC profile full of identity: a small one and a 16 MiB one
  e2e        upload -> object in bucket B on the embedded AWS with one worker
  backfill   a bucket of 20,000 photos: planning (merge vs the old planner), sync --enqueue,
             the workers draining the queue, B against sanitize(A) (backfill_bench.py)

The corpus is generated once into build/bench/ (12 MP camera photos carrying EXIF, GPS,
XMP, ICC and a thumbnail); `--corpus DIR` (make bench CORPUS=dir) uses your own photos.
Numbers are best-of-N wall-clock times on this machine; the goals from the issues are
printed beside them.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image

import exif_stripper
from exif_stripper.icc import sanitize_profile
from exif_stripper.jpeg import Frame, Tokenizer
from exif_stripper.sanitize import Options, OrientationPolicy, sanitize_bytes
from exif_stripper.transform import make_upright, turbojpeg
from tests.harness import icc_profiles, samples

BUILD: Final = Path(__file__).resolve().parents[2] / "build" / "bench"
MB: Final = 1_000_000


@dataclass(frozen=True)
class Row:
    name: str
    seconds: float
    megabytes: float
    images: int

    @property
    def mb_per_s(self) -> float:
        return self.megabytes / self.seconds

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds


def best_of(rounds: int, work: Callable[[], object]) -> float:
    """The fastest of `rounds` runs: the least disturbed by whatever else the machine does."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def table(rows: Sequence[Row], baseline: Row) -> str:
    lines = [f"  {'method':<44} {'MB/s':>9} {'images/s':>9} {'x ours':>8}"]
    for row in rows:
        lines.append(
            f"  {row.name:<44} {row.mb_per_s:>9.1f} {row.images_per_s:>9.1f} "
            f"{baseline.mb_per_s / row.mb_per_s:>8.1f}"
        )
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


# --- sanitizer -------------------------------------------------------------------------------


def bench_sanitizer(corpus: list[Path], rounds: int) -> None:
    data = [path.read_bytes() for path in corpus]
    total = sum(len(d) for d in data) / MB
    keep_tag = Options(OrientationPolicy.KEEP_TAG)

    def ours() -> None:
        for item in data:
            sanitize_bytes(item, keep_tag)

    def pillow() -> None:
        for item in data:
            Image.open(io.BytesIO(item)).save(io.BytesIO(), "JPEG", quality=95)

    rows = [Row("exif-stripper (in process, verified)", best_of(rounds, ours), total, len(data))]
    rows.append(
        Row("Pillow re-encode quality=95", best_of(max(1, rounds // 3), pillow), total, len(data))
    )
    with tempfile.TemporaryDirectory() as scratch:
        rows += _external_tools(corpus, Path(scratch), total)
    print(f"sanitizer: {len(data)} photos, {total:.1f} MB in memory, best of {rounds}")
    print(table(rows, rows[0]))
    ratio = rows[0].mb_per_s / rows[1].mb_per_s
    print(
        f"  goal >= 1000 MB/s with verification: {rows[0].mb_per_s:.0f} MB/s, "
        f"{verdict(rows[0].mb_per_s >= 1000)}"
    )
    print(f"  goal >= 25x the Pillow re-encode: {ratio:.0f}x, {verdict(ratio >= 25)}")


def _external_tools(corpus: list[Path], scratch: Path, total: float) -> list[Row]:
    """The command-line tools a user might reach for, each over the whole corpus."""
    rows = []
    if shutil.which("exiftool"):

        def exiftool() -> None:
            out = scratch / f"exiftool-{time.monotonic_ns()}"
            out.mkdir()
            # one process for every file, as a user would run it over a folder
            subprocess.run(
                ["exiftool", "-q", "-q", "-all=", "-o", f"{out}/", *map(str, corpus)],
                check=True,
                capture_output=True,  # it warns, rightly, that it drops the ICC profile
            )

        rows.append(
            Row(
                "exiftool -all= (one process; drops ICC too)",
                best_of(1, exiftool),
                total,
                len(corpus),
            )
        )
    if shutil.which("jpegtran"):

        def jpegtran() -> None:
            for path in corpus:
                subprocess.run(
                    ["jpegtran", "-copy", "icc", "-outfile", str(scratch / "t.jpg"), str(path)],
                    check=True,
                )

        rows.append(
            Row("jpegtran -copy icc (a process per file)", best_of(1, jpegtran), total, len(corpus))
        )
    return rows


# --- cli ---------------------------------------------------------------------------------------


def bench_cli(corpus: list[Path], rounds: int) -> None:
    """`strip` on a photo library (the corpus ten times over, in ten folders) against cp -r.

    A folder of a dozen photos would measure mostly Python's start-up (reported apart);
    a library is what directory mode is for. The copies are hard links: no extra disk.
    """
    library = BUILD / "library"
    for folder in range(10):
        target = library / f"folder-{folder:02d}"
        target.mkdir(parents=True, exist_ok=True)
        for photo in corpus:
            if not (target / photo.name).exists():
                (target / photo.name).hardlink_to(photo)
    total = sum(p.stat().st_size for p in library.rglob("*.jpg")) / MB
    count = len(list(library.rglob("*.jpg")))
    cli = [sys.executable, "-m", "exif_stripper.cli", "strip", "--orientation", "keep-tag"]
    # An installed package comes with its bytecode compiled (pip does it at install time);
    # the editable development install does not, and PYTHONDONTWRITEBYTECODE may be set.
    package = Path(exif_stripper.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    with tempfile.TemporaryDirectory(dir=BUILD) as scratch:
        out = Path(scratch)

        def run(command: list[str]) -> float:
            shutil.rmtree(out / "x", ignore_errors=True)
            started = time.perf_counter()
            subprocess.run(
                [*command, str(library), str(out / "x")], check=True, capture_output=True
            )
            return time.perf_counter() - started

        times: dict[str, list[float]] = {"cp": [], "strip": []}
        for _ in range(rounds):  # alternate, so disk write-back hits both alike
            times["cp"].append(run(["cp", "-r"]))
            times["strip"].append(run(cli))
        empty = out / "empty"
        empty.mkdir()
        start_up = best_of(
            rounds,
            lambda: subprocess.run(
                [*cli, str(empty), str(out / "y")], check=True, capture_output=True
            ),
        )
    cp_time, strip_time = min(times["cp"]), min(times["strip"])
    ratio = strip_time / cp_time
    print(f"cli: a library of {count} photos in 10 folders, {total:.0f} MB, best of {rounds}")
    print(
        f"  cp -r {cp_time * 1000:.0f} ms ({total / cp_time:.0f} MB/s), exif-stripper strip "
        f"{strip_time * 1000:.0f} ms ({total / strip_time:.0f} MB/s); start-up alone "
        f"{start_up * 1000:.0f} ms"
    )
    print(f"  goal within 3x of cp -r: {ratio:.1f}x, {verdict(ratio <= 3)}")


# --- rotation -----------------------------------------------------------------------------------


def bench_rotation(count: int, rounds: int) -> None:
    if turbojpeg() is None or not shutil.which("jpegtran"):
        print("rotation: skipped (needs libturbojpeg and jpegtran)")
        return
    photos = []
    for seed in range(count):
        upright = samples.camera_photo(3008, 4000, seed=seed)  # whole MCUs both ways
        stored = samples.stored_pixels(samples.decode(upright), 6)
        base = samples.encode_jpeg(stored, samples.Encoding(quality=90))
        photos.append(
            samples.compose(base, [samples.exif_segment(samples.CameraExif(orientation=6))])
        )
    total = sum(map(len, photos)) / MB
    with tempfile.TemporaryDirectory() as scratch:
        paths = []
        for i, photo in enumerate(photos):
            paths.append(Path(scratch) / f"{i}.jpg")
            paths[-1].write_bytes(photo)

        def ours() -> None:
            for photo in photos:
                assert sanitize_bytes(photo).report.rotation == "lossless"

        def jpegtran() -> None:
            for path in paths:
                subprocess.run(
                    [
                        "jpegtran",
                        "-perfect",
                        "-rotate",
                        "90",
                        "-copy",
                        "icc",
                        "-outfile",
                        f"{path}.out",
                        str(path),
                    ],
                    check=True,
                )

        def library_only() -> None:
            for photo in photos:
                make_upright(photo, 6, _frame(photo))

        rows = [
            Row("exif-stripper apply (parse, turn, verify)", best_of(rounds, ours), total, count),
            Row("jpegtran -perfect -rotate 90", best_of(rounds, jpegtran), total, count),
            Row(
                "TurboJPEG tjTransform alone (in process)",
                best_of(rounds, library_only),
                total,
                count,
            ),
        ]
    print(f"rotation: {count} photos of 12 MP with orientation 6, best of {rounds}")
    print(table(rows, rows[0]))
    slower = rows[0].seconds / rows[1].seconds
    print(f"  goal no slower than jpegtran + 20%: {slower:.2f}x its time, {verdict(slower <= 1.2)}")


def _frame(jpeg: bytes) -> Frame:
    tokenizer = Tokenizer(max_bytes=len(jpeg), max_pixels=10**9)
    tokenizer.feed(jpeg)
    assert tokenizer.frame is not None
    return tokenizer.frame


# --- memory --------------------------------------------------------------------------------------

_MEASURE: Final = """
import sys, time, tracemalloc
from exif_stripper.sanitize import sanitize_stream

def peak_rss_kib():
    # VmHWM is this process's own high-water mark; ru_maxrss would carry the parent's
    # over from fork and exec.
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))

before = peak_rss_kib()
started = time.perf_counter()
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as dst:
    report = sanitize_stream(src, dst)
seconds = time.perf_counter() - started
after = peak_rss_kib()
tracemalloc.start()
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "wb") as dst:
    sanitize_stream(src, dst)
python_peak = tracemalloc.get_traced_memory()[1]
print(before, after, seconds, report.bytes_in, python_peak)
"""


def bench_memory(sizes_mb: Sequence[int]) -> None:
    BUILD.mkdir(parents=True, exist_ok=True)
    print("memory: a fresh process streams a large JPEG file to file")
    per_mb = []
    for size in sizes_mb:
        path = BUILD / f"large-{size}mb.jpg"
        if not path.exists():
            samples.write_large_jpeg(path, size * 1024 * 1024, width=4096)
        with tempfile.TemporaryDirectory() as scratch:
            out = subprocess.run(
                [sys.executable, "-c", _MEASURE, str(path), f"{scratch}/out.jpg"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
        before, after, seconds = int(out[0]) / 1024, int(out[1]) / 1024, float(out[2])
        size_in, python_peak = int(out[3]), int(out[4]) / 2**20
        added = after - before
        per_mb.append(seconds / (size_in / MB))
        print(
            f"  {size_in / MB:7.1f} MB: peak RSS {after:.1f} MiB ({before:.1f} after imports, "
            f"+{added:.1f}); Python allocations peak {python_peak:.1f} MiB; {seconds:.3f} s, "
            f"{seconds / (size_in / MB) * 1000:.2f} ms/MB"
        )
        if size == max(sizes_mb):
            print(f"  goal < 64 MiB added for ~200 MB: {verdict(added < 64)}")
    spread = max(per_mb) / min(per_mb)
    print(
        f"  goal time linear in size: ms/MB varies {spread:.2f}x across sizes, "
        f"{verdict(spread < 1.5)}"
    )


# --- ICC profiles ------------------------------------------------------------------------------


def bench_icc(rounds: int) -> None:
    print("icc: sanitize_profile on profiles full of identity (issue 8 point 2)")
    cases = (
        ("matrix/TRC RGB v2, sampled curves", icc_profiles.matrix_rgb(0x02400000, trc="table")),
        ("CMYK v2, 41-point CMYK->Lab table", icc_profiles.cmyk(0x02100000, grid=41)),
    )
    for (name, profile), goal in zip(cases, (0.001, 1.0), strict=True):
        seconds = best_of(rounds, lambda profile=profile: sanitize_profile(profile))
        print(
            f"  {name} ({len(profile) / 2**10:,.1f} KiB): {seconds * 1000:.3f} ms; "
            f"goal well under {goal * 1000:g} ms: {verdict(seconds < goal / 2)}"
        )


# --- main -----------------------------------------------------------------------------------------

SECTIONS: Final = ("sanitizer", "cli", "rotation", "memory", "icc", "e2e", "backfill")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, help="a directory of your own .jpg photos")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--photos", type=int, default=200, help="uploads for the e2e section")
    parser.add_argument("--keys", type=int, default=20_000, help="bucket A for the backfill")
    args = parser.parse_args(argv)
    sections = args.only or SECTIONS
    corpus_dir = args.corpus or BUILD / "corpus"
    if args.corpus is None:
        print(f"generating the corpus in {corpus_dir} (once) ...", flush=True)
        samples.write_corpus(corpus_dir)
    corpus = sorted(p for p in corpus_dir.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    if "sanitizer" in sections:
        bench_sanitizer(corpus, args.rounds)
    if "cli" in sections:
        bench_cli(corpus, args.rounds)
    if "rotation" in sections:
        bench_rotation(4, args.rounds)
    if "memory" in sections:
        bench_memory((50, 100, 200))
    if "icc" in sections:
        bench_icc(args.rounds)
    if "e2e" in sections:
        from tests.harness.e2e_bench import bench_end_to_end

        bench_end_to_end(args.photos)
    if "backfill" in sections:
        from tests.harness.backfill_bench import bench_backfill

        bench_backfill(args.keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
