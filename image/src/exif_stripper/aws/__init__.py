"""The pipeline on AWS: the uploads bucket's events in, sanitized copies in the web bucket.

`settings` (the environment), `clients` (boto3), `pipeline` (one object: fetch, sanitize,
verify, write), `handler` and `reporting` (the Lambda; `pip install exif-stripper[lambda]`),
`worker`, `sync`, `inventory`, `enqueue`, `redrive` (the same pipeline run from a machine;
`pip install exif-stripper[aws]`). Built on `exif_stripper.core`, never on the CLI.
"""
