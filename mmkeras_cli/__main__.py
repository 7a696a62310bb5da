from mmkeras_cli.main import cli

cli(prog_name="mmkeras")
