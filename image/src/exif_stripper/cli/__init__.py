"""The `exif-stripper` command: a thin shell over the core and the AWS layer.

    exif-stripper strip [--orientation {apply,keep-tag,drop}] IN OUT
    exif-stripper inspect FILE [--json]
    exif-stripper worker --queue-url URL [--uploads A --web B]
    exif-stripper sync [--uploads A --web B] [--prefix P] [--start-after KEY]
                       [--inventory MANIFEST] [--reprocess-all] [--enqueue QUEUE_URL] [--dry-run]
    exif-stripper redrive --from DLQ_URL --to QUEUE_URL

One module per command (`strip`, `inspect`, `worker`, `sync`, `redrive`), the entry that
builds the parser (`main`), what they share (`common`: exit codes, messages, flags) and
the files `strip` reads and writes (`files`). Exit codes, which scripts depend on: 0 ok,
1 an I/O error, 2 usage, 3 at least one input rejected; a `strip` stopped by SIGTERM,
SIGINT or SIGHUP ends by that signal.
"""

from .common import IO_ERROR, OK, REJECTED, USAGE
from .main import main

__all__ = ["IO_ERROR", "OK", "REJECTED", "USAGE", "main"]
