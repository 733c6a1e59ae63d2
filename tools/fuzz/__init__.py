"""`make fuzz`: the whole sanitizer under atheris; `make test` runs the same properties briefly.

    seeds           small images of every shape, made in code (`python -m tools.fuzz.seeds DIR`)
    properties      the mutations and the oracle every output must pass
    leaks           did any dropped byte reach the output?
    atheris_target  the libFuzzer entry point

A finding is left in build/fuzz/ (libFuzzer's crash-* file) with its traceback.
"""
