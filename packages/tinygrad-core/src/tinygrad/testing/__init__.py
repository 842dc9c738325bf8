"""Testing tools for backend authors.

`tinygrad.testing.conformance` is the backend conformance suite (it needs pytest):

    from tinygrad.testing.conformance import conformance_tests
    globals().update(conformance_tests("MYDEV"))

or `python -m tinygrad.testing.conformance MYDEV`. `tinygrad.testing.data` holds its random inputs and numpy
oracles (including exact rounding to bfloat16 and fp8). See docs/backends.md.
"""
