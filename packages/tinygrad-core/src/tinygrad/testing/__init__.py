"""Testing tools shipped with core, for backend authors and for core's own tests.

- `tinygrad.testing.conformance`: the backend conformance suite (needs pytest). In a backend's tests:
  `from tinygrad.testing.conformance import conformance_tests; globals().update(conformance_tests("MYDEV"))`,
  or `python -m tinygrad.testing.conformance MYDEV`. See docs/backends.md.
- `tinygrad.testing.data`: its random inputs and numpy oracles, including exact rounding to bfloat16 and fp8.
- `tinygrad.testing.fuzz`: fuzzers for the compiler (`python -m tinygrad.testing.fuzz --help`).
"""
