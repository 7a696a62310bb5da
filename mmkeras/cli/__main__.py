from mmkeras.cli.main import cli

cli(prog_name="mmkeras")
