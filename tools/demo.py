"""`make demo`: the whole system on this machine, with no AWS account.

Starts the embedded AWS (a moto server on 127.0.0.1), applies the real Terraform modules
to it and turns IAM enforcement on, runs the processor as a local worker on the real S3
event queue with the function's own execution role, uploads sample photos as User A,
fetches the copies as User B, and shows what was removed from each. Then it deletes one
photo as User A, watches its copy leave the web bucket, tries every access of
docs/design.md "Access" as User
A, User B and the function's role, and shows from the server's own count that every
request after the apply was checked against IAM. It exits non-zero if any check fails.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from exif_stripper.core.inspection import Inspection, inspect_stream
from tools.embedded_aws import access
from tools.embedded_aws.local_stack import Stack, deployed_stack, wait_until
from tools.oracle import exiftool_available, exiftool_reports, findings
from tools.samples import png as samples_png
from tools.samples import webp as samples_webp
from tools.samples.jpeg import decode, psnr
from tools.samples.orientation import upright_image
from tools.samples.ready_made import demo_samples
from tools.smoke import read_object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

COPY_TIMEOUT: Final = 30.0
STEPS: Final = 11
# What the table shows, in the words of `exif-stripper inspect`.
COLUMNS: Final = {
    "GPS": ("GPS position",),
    "camera": ("camera", "lens"),
    "serial": ("serial number", "unique id"),
    "person": ("person",),
    "XMP": ("XMP",),
    "IPTC": ("IPTC",),
    "thumbnail": ("thumbnail",),
    "text": ("text", "comment"),
}


@dataclass
class Photo:
    name: str
    original: bytes
    copy: bytes = b""
    seconds: float = 0.0
    before: Inspection = field(default_factory=Inspection)
    after: Inspection = field(default_factory=Inspection)
    exiftool_after: list[str] = field(default_factory=list)
    pixels: str = ""


class Demo:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.failures: list[str] = []
        self.step_number = 0

    def step(self, text: str) -> None:
        self.step_number += 1
        elapsed = time.monotonic() - self.started
        print(f"[{self.step_number}/{STEPS} {elapsed:5.1f}s] {text}", flush=True)

    def check(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)
            print(f"    FAILED: {failure}", flush=True)

    def run(self, work_dir: Path) -> int:
        self.step("starting the embedded AWS and applying modules/ with Terraform ...")
        with deployed_stack(work_dir, name_prefix="exif-demo", destroy=False, quiet=True) as stack:
            timings = stack.terraform.timings
            self.step(
                f"applied on {stack.aws.endpoint_url}: init {timings.init:.1f}s, apply "
                f"{timings.apply:.1f}s; uploads bucket {stack.uploads}, web bucket {stack.web}"
            )
            self.step(
                f"IAM enforcement on: from now every request is checked against IAM; the "
                f"harness acts as its admin user {stack.admin_user} (explicit policy)"
            )
            uploader, reader = stack.s3_as(stack.user_a), stack.s3_as(stack.user_b)
            self.step(f"access keys made for User A ({stack.user_a}) and User B ({stack.user_b})")
            with stack.worker() as worker:
                self.step(
                    f"worker started (pid {worker.process.pid}) as the function's role "
                    f"{stack.role_name}, polling the event queue"
                )
                photos = self.upload_and_fetch(stack, uploader, reader)
                self.show(photos)
                self.delete_one(stack, uploader, reader, photos[0].name)
            self.show_access(stack, uploader, reader)
            self.step("worker stopped; stopping the embedded AWS, which takes the stack with it")
            self.show_enforcement(stack)
        return self.summary(len(photos))

    # -- the job ---------------------------------------------------------------------------

    def upload_and_fetch(self, stack: Stack, uploader: S3Client, reader: S3Client) -> list[Photo]:
        every = {
            **demo_samples(),
            **samples_png.demo_samples(),
            **samples_webp.demo_samples(),
        }
        photos = [Photo(name, data) for name, data in every.items()]
        self.step(f"uploading {len(photos)} sample photos to the uploads bucket as User A ...")
        uploaded: dict[str, float] = {}
        for photo in photos:
            uploader.put_object(Bucket=stack.uploads, Key=photo.name, Body=photo.original)
            uploaded[photo.name] = time.monotonic()
        self.step("waiting for each copy in the web bucket, reading as User B ...")
        for photo in photos:
            copy = wait_until(lambda p=photo: read_object(reader, stack.web, p.name), COPY_TIMEOUT)
            self.check(copy is not None, f"{photo.name}: no copy in B after {COPY_TIMEOUT:.0f}s")
            photo.copy = copy or b""
            photo.seconds = time.monotonic() - uploaded[photo.name]
        self.inspect(photos)
        return photos

    def inspect(self, photos: list[Photo]) -> None:
        copies = [photo.copy for photo in photos if photo.copy]
        oracle = exiftool_reports(copies) if exiftool_available() and copies else []
        reports = iter(oracle)
        for photo in photos:
            photo.before = inspect_stream(io.BytesIO(photo.original))
            if not photo.copy:
                continue
            photo.after = inspect_stream(io.BytesIO(photo.copy))
            photo.exiftool_after = findings(next(reports)) if oracle else []
            photo.pixels = _compare_pixels(photo)
            self.check(
                not photo.after.findings and not photo.after.rejected,
                f"{photo.name}: the copy still holds {photo.after.findings}",
            )
            self.check(
                not photo.exiftool_after, f"{photo.name}: exiftool finds {photo.exiftool_after}"
            )
            self.check(photo.pixels != "DIFFERENT", f"{photo.name}: the copy's pixels differ")

    def delete_one(self, stack: Stack, uploader: S3Client, reader: S3Client, name: str) -> None:
        self.step(f"deleting {name} from the uploads bucket as User A ...")
        uploader.delete_object(Bucket=stack.uploads, Key=name)
        started = time.monotonic()
        gone = wait_until(lambda: read_object(reader, stack.web, name) is None, COPY_TIMEOUT)
        self.check(bool(gone), f"{name}: still in the web bucket after {COPY_TIMEOUT:.0f}s")
        if gone:
            print(f"    {name} left the web bucket after {time.monotonic() - started:.2f}s")

    # -- what the user sees ----------------------------------------------------------------

    def show(self, photos: list[Photo]) -> None:
        self.step("what was removed (before -> after), as User B downloaded it:")
        header = f"    {'photo':<30} {'bytes before':>12} {'after':>7}  "
        header += " ".join(f"{name:<9}" for name in COLUMNS) + f" {'trailer':>8}  after  pixels"
        print(header)
        for photo in photos:
            found = {c: _has(photo.before, cats) for c, cats in COLUMNS.items()}
            # after EOI (JPEG), after IEND (PNG), after the RIFF (WebP)
            trailer = sum(s.size for s in photo.before.segments if s.marker.startswith("after "))
            after = "nothing" if photo.copy and not photo.after.findings else "LEFT!"
            print(
                f"    {photo.name:<30} {len(photo.original):>12,} {len(photo.copy):>7,}  "
                + " ".join(f"{'yes' if v else '-':<9}" for v in found.values())
                + f" {trailer:>8,}  {after:<6} {photo.pixels}"
            )
        print("    where the GPS positions came from:")
        for photo in photos:
            for finding in photo.before.findings:
                if finding.category == "GPS position":
                    print(f"      {photo.name:<30} {finding.detail} [{finding.source}]")
        oracle = (
            "exiftool also finds nothing in any copy"
            if exiftool_available()
            else ("exiftool is not installed: only the built-in inspection was used")
        )
        print(f"    {oracle}")

    def show_access(self, stack: Stack, uploader: S3Client, reader: S3Client) -> None:
        self.step(
            'who may do what (docs/design.md "Access"), '
            "each cell tried with that identity's credentials:"
        )
        results = access.try_access(
            {"User A": uploader, "User B": reader, "function role": stack.role("s3")},
            {"uploads bucket": stack.uploads, "web bucket": stack.web},
            stack.admin("s3"),
            prefix="access-check/",
        )
        for line in access.format_table(results):
            print(f"    {line}")
        print(
            "    multipart = create, upload a part, complete, abort another; "
            "uploads = list open uploads; parts = list an upload's parts"
        )
        for difference in access.differences(results):
            self.check(False, difference)

    def show_enforcement(self, stack: Stack) -> None:
        audit = stack.enforcement_audit()
        for service in ("s3", "sqs"):
            signers: Counter[str] = Counter()
            for (s, principal, _), count in audit.requests.items():
                if s == service:
                    signers[principal] += count
            print(
                f"    {service.upper()} requests after the apply: {audit.count(service)}, "
                f"unchecked {audit.count(service, checked=False)}; by "
                + ", ".join(f"{principal} {count}" for principal, count in sorted(signers.items()))
            )
        for gap in stack.enforcement_gaps():
            self.check(False, gap)

    def summary(self, count: int) -> int:
        seconds = time.monotonic() - self.started
        if self.failures:
            print(f"demo FAILED: {len(self.failures)} check(s) failed in {seconds:.0f}s")
            return 1
        print(f"demo passed: {count} photos sanitized, checked and one deleted in {seconds:.0f}s")
        return 0


def _has(inspection: Inspection, categories: tuple[str, ...]) -> bool:
    return any(finding.category in categories for finding in inspection.findings)


def _compare_pixels(photo: Photo) -> str:
    """ "same" when every pixel matches; for a turned photo, how close to upright it is."""
    if photo.after.orientation is None and photo.before.orientation in (None, 1):
        same = decode(photo.copy).tobytes() == decode(photo.original).tobytes()
        return "same" if same else "DIFFERENT"
    upright = upright_image(photo.original).convert("RGB")
    copy = decode(photo.copy).convert("RGB")
    if copy.size != upright.size:
        return "DIFFERENT"
    return f"upright ({psnr(copy, upright):.0f} dB)"


def main(run: Callable[[Path], int] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="exif-demo-") as scratch:
        return (run or Demo().run)(Path(scratch))


if __name__ == "__main__":
    sys.exit(main())
