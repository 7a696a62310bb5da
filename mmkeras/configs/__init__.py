"""Training configs for `mmkeras train NAME`: one module per run, each with
a `get_config()` whose docstring gives the command, data, expected metric
and time, and a `TINY_OVERRIDES` list of the `--set` values of its
smallest run, with which the resume test runs every config."""
