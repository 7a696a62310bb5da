"""The HubEncoder example: a tiny image encoder exported as a reusable
SavedModel, written once per test process."""

import atexit
import os
import shutil
import tempfile

import numpy as np

from mmkeras.encoders import ConvImageEncoder
from mmkeras.export.hub import export_hub_module

HUB_MODULE = os.path.join(
    tempfile.gettempdir(), f"mmkeras-test-hub-{os.getpid()}"
)
IMAGE_SHAPE = (None, 16, 16, 3)
_IMAGES = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")


def tiny_encoder():
    encoder = ConvImageEncoder(
        filters=(4, 8), hidden_dim=8, normalization="layer"
    )
    encoder.build(IMAGE_SHAPE)
    return encoder


def tiny_hub_module():
    """The module's path, written on first use (removed at exit)."""
    if not os.path.isdir(HUB_MODULE):
        export_hub_module(tiny_encoder(), HUB_MODULE, IMAGE_SHAPE)
        atexit.register(shutil.rmtree, HUB_MODULE, True)
    return HUB_MODULE


HUB_CASES = {
    "HubEncoder": dict(
        init_kwargs=dict(handle=HUB_MODULE, output_key="pooled"),
        args=(_IMAGES,),
        setup=tiny_hub_module,
    ),
}
