"""The UOp IR: ops, pattern matching and rewriting, symbolic index algebra."""
