"""exif-stripper: web-safe copies of user-uploaded JPEGs.

The sanitizer (`exif_stripper.sanitize`) removes every piece of metadata that could
identify a person while leaving the image data byte for byte as it was.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("exif-stripper")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"
