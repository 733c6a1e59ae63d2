"""`make bench` (`python -m tools.bench.sections`): how fast, how lean, against the alternatives.

    sections    the in-process sections and the runner (`--only NAME`)
    end_to_end  upload to bucket A -> copy in bucket B, on the embedded AWS
    backfill    a bucket of 20,000 photos: the plan, sync --enqueue, the workers
    turns       sideways photos of every layout turned upright, PSNR against a browser's view

Each section prints its numbers beside the goal the issues set; none is a timed test.
"""
