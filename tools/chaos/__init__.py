"""`make chaos` (`python -m tools.chaos.scenarios`): faults injected, nothing lost (issue 14).

    scenarios  the stack, the workers, the scenarios and their table
    faults     the fault layer, installed through botocore's event hooks in worker processes
    mix        what User A uploads, overwrites and deletes
    checks     the invariants each scenario must end with, checked from the outside

Not part of `make test`; CI runs a short one (PHOTOS=200) beside it.
"""
