"""One module per check (or per group of checks). Each registers itself with `@check`;
`registry.load_all()` imports every module here, so adding a check is adding a file."""
