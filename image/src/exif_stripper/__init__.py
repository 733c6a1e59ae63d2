"""exif-stripper: web-safe copies of user-uploaded photos (JPEG, PNG, WebP).

Three layers, split by where each ships (docs/design.md, "Where each promise is
implemented"); each may import only the layers below it, which `make lint` checks
(import-linter, in the root pyproject.toml):

- `exif_stripper.cli`: the `exif-stripper` command, one module per subcommand. `strip` and
  `inspect` need the core alone; `worker`, `sync` and `redrive` import the AWS layer when
  they run (`pip install 'exif-stripper[aws]'`).
- `exif_stripper.aws`: the pipeline on AWS: settings from the environment, boto3 clients,
  the Lambda handler and its reporting, the local worker, sync, redrive
  (`pip install 'exif-stripper[lambda]'` for the handler, `[aws]` for the rest).
- `exif_stripper.core`: the sanitizer (`exif_stripper.core.sanitize`): removes every piece of
  metadata that could identify a person while leaving the image data byte for byte as it
  was. Pillow and zlib-ng only; no AWS imports (`pip install exif-stripper`).
"""

# The single source of the version (image/pyproject.toml reads it from here). It is also
# written into every object in the web bucket, so a sanitizer change can be backfilled by `sync`.
__version__ = "0.1.0"
