"""`exif-stripper redrive --from DLQ_URL --to QUEUE_URL`: dead letters back to the queue.

Needs `exif-stripper[aws]`, imported when the command runs.
"""

from __future__ import annotations

import argparse

from .common import IO_ERROR, OK, Commands, say


def add_parser(commands: Commands) -> None:
    redrive = commands.add_parser(
        "redrive", help="move the dead-letter queue's messages back to the event queue"
    )
    redrive.add_argument("--from", dest="dead_letters", required=True, metavar="DLQ_URL")
    redrive.add_argument("--to", dest="queue", required=True, metavar="QUEUE_URL")
    redrive.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    from ..aws.clients import sqs_client
    from ..aws.redrive import redrive

    result = redrive(sqs_client(), args.dead_letters, args.queue)
    print(f"moved {result.moved} messages from {args.dead_letters} to {args.queue}")
    if result.failed:
        say(
            f"redrive: {result.failed} messages could not be sent; they stay in {args.dead_letters}"
        )
        return IO_ERROR
    return OK
