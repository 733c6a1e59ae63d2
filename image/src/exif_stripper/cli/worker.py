"""`exif-stripper worker --queue-url URL`: the function's queue, processed on this machine.

The very handler the Lambda runs (`aws.handler.make_handler`), fed by `aws.worker.Worker`'s
long polls. Needs `exif-stripper[aws]`, imported when the command runs.
"""

from __future__ import annotations

import argparse

from .common import OK, Commands, add_bucket_options, bucket_settings, say


def add_parser(commands: Commands) -> None:
    worker = commands.add_parser("worker", help="process the S3 event queue on this machine")
    worker.add_argument(
        "--queue-url", required=True, help="the SQS queue the uploads bucket notifies"
    )
    worker.add_argument("--wait-seconds", type=int, default=10, help="long-poll wait (<= 20)")
    worker.add_argument(
        "--visibility-timeout", type=int, help="seconds a received message stays hidden"
    )
    worker.add_argument(
        "--exit-when-idle", type=int, metavar="POLLS", help="stop after POLLS empty polls"
    )
    add_bucket_options(worker)
    worker.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from ..aws.clients import s3_client, sqs_client
    from ..aws.handler import make_handler
    from ..aws.pipeline import Pipeline
    from ..aws.worker import Worker

    chosen = bucket_settings(args)
    worker = Worker(
        sqs_client(),
        args.queue_url,
        make_handler(Pipeline(s3_client(), chosen)),
        wait_seconds=args.wait_seconds,
        visibility_timeout=args.visibility_timeout,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Finish the batch in hand, then stop: what is not deleted comes back anyway.
        signal.signal(signum, lambda *_: stop.set())
    say(f"worker: {chosen.uploads_bucket} -> {chosen.web_bucket}, polling {args.queue_url}")
    tally = worker.run(stop, idle_polls=args.exit_when_idle)
    say(f"worker: stopped; {tally.succeeded} handled, {tally.failed} failed (left to the queue)")
    return OK
