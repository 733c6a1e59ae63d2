"""Photos built in code, carrying real metadata, for the tests, the demo and the benchmarks.

Every builder returns bytes (or writes a file) that a real reader recognises: Pillow
decodes the pixels, exiftool finds the metadata. Nothing is read from a binary blob; every
structure is written byte by byte with `struct`, following the standard it comes from. The
readers here are deliberately separate from the product's parsers: the tests must not share
a bug with the code they check.

Import each builder from the module that holds it (this package re-exports nothing):

    jpeg           markers, segments, a marker walker; photo-like pixels and encoding (T.81)
    exif           the TIFF structure and APP1 Exif (CIPA DC-008)
    metadata       XMP, IPTC in Photoshop resources, COM, JFIF/JFXX, FlashPix, junk APPn
    icc            a plain sRGB profile, grown past a segment, and its APP2 chunks
    icc_profiles   ICC profiles that carry an owner's identity (ICC.1)
    trailers       what phones append after EOI: motion-photo video, Samsung SEF, padding
    composition    segments placed and removed, MPO (CIPA DC-007), the reference strip
    orientation    Exif Orientation: how cameras store a scene, how viewers turn it back
    ready_made     the kitchen sink, an MPO pair, a motion photo, the demo's photos
    corpora        the benchmark's camera photos and a large streamed JPEG
    damage         a valid JPEG damaged one way that browsers still display
    png            PNG and APNG with eXIf, XMP, text chunks, an ICC profile, a trailer
    webp           WebP (VP8, VP8L, animation) with EXIF, XMP, ICC, unknown chunks
"""
