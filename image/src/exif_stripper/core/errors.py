"""Typed rejections: every input the sanitizer refuses gets one of these.

Each error names the reason in words a user can act on and the byte offset in the input
where the problem was found, so a support engineer can open the file in a hex editor and
look. `str(error)` is the one line the CLI prints and the Lambda logs.
"""

from __future__ import annotations


class SanitizeError(Exception):
    """The input was rejected; nothing was (or may be) written for it."""

    code = "rejected"

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{self.code}: {reason} (at byte {offset})")
        self.reason = reason
        self.offset = offset


class UnsupportedFormat(SanitizeError):
    """The content is none of the formats we sanitize (JPEG, PNG, WebP), whatever its name
    says: HEIC, AVIF, GIF, TIFF, a PDF, nothing at all. Not retried: it will not change."""

    code = "unsupported-format"


class NotAJpeg(SanitizeError):
    """The JPEG path was given something that does not start like a JPEG. (The public API
    tells the format first: content that is no image at all is `UnsupportedFormat`.)"""

    code = "not-a-jpeg"


class Truncated(SanitizeError):
    """The file ends before its structure is complete: a JPEG inside a segment or a scan,
    a PNG or WebP inside a chunk, or a WebP shorter than its RIFF header says."""

    code = "truncated"


class BadSegment(SanitizeError):
    """A JPEG segment is malformed: a length that lies, a marker where none may be, bad
    tables."""

    code = "bad-segment"


class BadChunk(SanitizeError):
    """A PNG or WebP chunk is malformed: its CRC or its length lies, it is out of order,
    repeated where only one may be, or a critical chunk we do not know."""

    code = "bad-chunk"


class Unsupported(SanitizeError):
    """A valid but rare flavour we do not pass on: a hierarchical or DNL JPEG, or one of
    more than 4 components; a WebP frame that is not meant to be shown."""

    code = "unsupported"


class TooLarge(SanitizeError):
    """The file exceeds the byte limit, holds more segments than any photo, or turning or
    re-encoding its pixels would take more memory than the budget allows."""

    code = "too-large"


class Undecodable(SanitizeError):
    """A damaged picture its decoder cannot decode either (libjpeg, zlib, libwebp), so it
    can neither be re-encoded nor turned upright."""

    code = "undecodable"


class VerificationFailed(SanitizeError):
    """The sanitizer's own output failed the re-check; it is never released.

    This is a bug in the sanitizer, not in the input; it exists so that a bug fails closed.
    """

    code = "verification-failed"
