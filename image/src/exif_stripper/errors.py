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


class NotAJpeg(SanitizeError):
    """The content is not a JPEG at all (empty, PNG, GIF, ...), whatever its name says."""

    code = "not-a-jpeg"


class Truncated(SanitizeError):
    """The JPEG ends before its structure is complete (inside a segment, a scan, or no EOI)."""

    code = "truncated"


class BadSegment(SanitizeError):
    """A segment is malformed: a length that lies, a marker where none may be, bad tables."""

    code = "bad-segment"


class Unsupported(SanitizeError):
    """A valid but rare JPEG flavour we do not pass on (hierarchical, DNL, > 4 components)."""

    code = "unsupported"


class TooLarge(SanitizeError):
    """The file exceeds the byte limit, holds more segments than any photo, or turning or
    re-encoding its pixels would take more memory than the budget allows."""

    code = "too-large"


class Undecodable(SanitizeError):
    """A damaged JPEG that libjpeg cannot decode either, so it cannot be re-encoded."""

    code = "undecodable"


class VerificationFailed(SanitizeError):
    """The sanitizer's own output failed the re-check; it is never released.

    This is a bug in the sanitizer, not in the input; it exists so that a bug fails closed.
    """

    code = "verification-failed"
