"""Dataset versions: hashing, schema, profiles, diffs (being built)."""
