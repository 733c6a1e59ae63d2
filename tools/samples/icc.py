"""A plain ICC profile in JPEG: LittleCMS's sRGB, grown past one segment by a private tag, and
its APP2 `ICC_PROFILE` chunks (ICC.1:2022 section 7; embedding ICC.1 Annex B.4).

Profiles that carry an owner's identity are built in icc_profiles.py.
"""

from __future__ import annotations

import hashlib
import struct

from PIL import ImageCms

from tools.samples.jpeg import APP2, ICC_HEADER, MAX_SEGMENT_PAYLOAD, segment

# =========================================================================================
# ICC profiles (ICC.1:2022 section 7; embedding: ICC.1 Annex B.4, APP2 "ICC_PROFILE\0")
# =========================================================================================

#: An ICC chunk's payload: signature (12), sequence number and count (1 each), data.
MAX_ICC_CHUNK = MAX_SEGMENT_PAYLOAD - len(ICC_HEADER) - 2


def srgb_profile() -> bytes:
    """A real, small sRGB profile from LittleCMS (588 bytes), with a fixed creation date.

    LittleCMS stamps the current time into the header (ICC.1 7.2.8, bytes 24..35); a fixed
    date keeps every sample byte-for-byte reproducible. The profile ID is zero ("not
    computed"), so nothing else depends on those bytes.
    """
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    created = struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
    return profile[:24] + created + profile[36:]


def padded_icc_profile(profile: bytes, total_size: int) -> bytes:
    """The same profile grown to `total_size` bytes by one extra private tag.

    Adds a tag-table entry (signature `zpad`, type `data`, ICC.1 10.4) whose data is
    padding, moves the other tags' offsets by the 12 bytes the entry takes, and fixes the
    header's size and profile ID. Readers skip private tags, so the colours stay the same.
    """
    (count,) = struct.unpack_from(">I", profile, 128)
    table_end = 132 + 12 * count
    entries = [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]
    tag_data = profile[table_end:]
    body_start = table_end + 12
    pad_offset = body_start + len(tag_data)
    pad_offset += -pad_offset % 4  # tag data starts on a 4-byte boundary (ICC.1 7.3.1)
    pad_size = total_size - pad_offset
    if pad_size < 12:
        raise ValueError(f"total_size must be at least {pad_offset + 12}")
    table = b"".join(struct.pack(">4sII", sig, off + 12, size) for sig, off, size in entries)
    table += struct.pack(">4sII", b"zpad", pad_offset, pad_size)
    pad_tag = b"data" + b"\x00" * 4 + struct.pack(">I", 1) + b"\x00" * (pad_size - 12)
    body = tag_data + b"\x00" * (pad_offset - body_start - len(tag_data)) + pad_tag
    grown = bytearray(profile[:128] + struct.pack(">I", count + 1) + table + body)
    struct.pack_into(">I", grown, 0, len(grown))
    return _with_profile_id(bytes(grown))


def _with_profile_id(profile: bytes) -> bytes:
    """Set the profile ID: MD5 of the profile with flags, intent and ID zeroed (ICC.1 7.2.18)."""
    scratch = bytearray(profile)
    scratch[44:48] = bytes(4)
    scratch[64:68] = bytes(4)
    scratch[84:100] = bytes(16)
    digest = hashlib.md5(scratch).digest()  # noqa: S324 - ICC specifies MD5
    return profile[:84] + digest + profile[100:]


def large_icc_profile(total_size: int = 150_000) -> bytes:
    """A real sRGB profile padded past one segment's capacity (three APP2 chunks by default)."""
    return padded_icc_profile(srgb_profile(), total_size)


def icc_segments(profile: bytes, chunk_size: int = MAX_ICC_CHUNK) -> list[bytes]:
    """APP2 `ICC_PROFILE\\0` chunks with 1-based sequence numbers and the chunk count."""
    if not 0 < chunk_size <= MAX_ICC_CHUNK:
        raise ValueError(f"chunk_size must be 1..{MAX_ICC_CHUNK}")
    chunks = [profile[i : i + chunk_size] for i in range(0, len(profile), chunk_size)]
    if len(chunks) > 255:
        raise ValueError("an ICC profile is split into at most 255 chunks")
    return [
        segment(APP2, ICC_HEADER + bytes((seq, len(chunks))) + chunk)
        for seq, chunk in enumerate(chunks, start=1)
    ]
