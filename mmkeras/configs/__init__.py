"""Training configs for `mmkeras train NAME`: one module per run, each with
a `get_config()` whose docstring gives the command, data, expected metric
and time."""
