"""Core's reference devices: PYTHON (UOp interpreter) and NULL (compiles nothing, runs nothing)."""
