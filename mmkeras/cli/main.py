"""The `mmkeras` command lives in `mmkeras_cli`, outside this package, so
that `mmkeras --help` does not import TensorFlow; this name stays for
`python -m mmkeras.cli` and for code that imports the click group."""

from mmkeras_cli.main import cli

__all__ = ["cli"]
