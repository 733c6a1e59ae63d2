"""exif-stripper: web-safe copies of user-uploaded JPEGs.

The sanitizer (`exif_stripper.sanitize`) removes every piece of metadata that could
identify a person while leaving the image data byte for byte as it was.
"""

# The single source of the version (image/pyproject.toml reads it from here). It is also
# written into every object in the web bucket, so a sanitizer change can be backfilled by `sync`.
__version__ = "0.1.0"
