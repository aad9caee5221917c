"""One module per lint rule; each registers itself with `@rule("<rule-id>")` (see ../__init__.py)."""
