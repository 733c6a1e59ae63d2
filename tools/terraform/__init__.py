"""Terraform as this repository runs it.

    cli_config      the CLI configuration (provider mirror or registry): `make terraform-config`
    provider_locks  each live/ unit's provider lock file: `make provider-locks`
    stack           apply and destroy a root module against the embedded AWS, timed
    exif_stack/     the root module `make demo`, the benchmarks, chaos and the integration
                    tests apply: the real modules wired as live/ wires them

The hooks and the tests run Terraform with the same CLI configuration.
"""
