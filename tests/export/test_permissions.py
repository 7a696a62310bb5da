"""Files others serve or show are written with the modes the umask gives
(tempfile's 0600 files and 0700 folders were unreadable to a server
running as another user). Export artifacts: tests/export/test_export.py."""

import os
import stat

import pytest
from PIL import Image

from mmkeras import explain


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_explain_pictures_get_the_umask_mode(tmp_path, umask, mode):
    path = tmp_path / "where.png"
    previous = os.umask(umask)
    try:
        explain.save_png(Image.new("RGB", (4, 4), "white"), path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert Image.open(path).size == (4, 4)
    assert os.listdir(tmp_path) == ["where.png"]
