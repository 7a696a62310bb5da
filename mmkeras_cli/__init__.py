"""The `mmkeras` command, outside the `mmkeras` package.

`import mmkeras` imports TensorFlow (5 s on an idle 2-core machine), which
the package must do so its models register with Keras. Here, only the
commands that run import it: `mmkeras --help` and argument errors answer
at once. `mmkeras.cli` is this command too (`python -m mmkeras.cli`).
"""
