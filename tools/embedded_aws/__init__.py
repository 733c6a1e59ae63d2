"""AWS on this machine: moto, as a server the real Terraform modules are applied to, or in-process.

    emulator          EmbeddedAws: the moto server in a child process, its users, roles and audit
    moto_server       the server process itself (run as a script by the emulator)
    moto_scaling      moto's SQS made to scale with a queue's depth
    local_stack       deployed_stack(): the modules applied, IAM enforced, a worker on the queue
    access            the access table (docs/design.md "Access") tried as each principal
    policy_templates  the modules' policies/*.json.tftpl rendered in Python
    policies/         the harness's own admin policy
    in_process        moto in the test's own process, for unit tests

The demo, the benchmarks, chaos and the integration tests (the smoke test among them) run
on the same stack (docs/embedded-aws.md: who signs what, what only AWS can check).
"""
