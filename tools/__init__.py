"""What users and the tests run, beside the product: each module is `python -m tools.<name>`.

    demo.py        `make demo`: the whole system on the embedded AWS, no account needed
    smoke.py       the smoke test of a deployed stack (`docker-compose run test`)
    oracle.py      exiftool as the tests' independent judge of what an image carries
    samples/       photos built in code, with real metadata, one module per kind of part
    embedded_aws/  moto as a server and the stack applied to it; moto in-process
    terraform/     the Terraform CLI configuration, provider locks, applying a root module
    bench/         `make bench`
    chaos/         `make chaos`
    fuzz/          `make fuzz`

Nothing here ships: the Lambda image and `pip install ./image` carry only image/src.
"""
