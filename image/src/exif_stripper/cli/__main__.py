"""`python -m exif_stripper.cli`: the `exif-stripper` command without its script."""

import sys

from .main import main

sys.exit(main())
