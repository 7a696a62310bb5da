"""Converts an `ImageCaptioner` trained on [0, 255] images to the [0, 1]
images it now receives, exactly, by scaling its first conv kernel.

Before `mmkeras.models._captioning.scale_images` recognised uint8 tensors
(2026-12-02), captioners trained from `tf.data` saw images in [0, 255]
while floats in [0, 1] reached them from serving and `explain`. The first
conv is linear and bias-free, so multiplying its image-channel weights by
255 gives the same features for images divided by 255:

    .venv/bin/python tools/rescale_captioner_input.py IN.keras OUT.keras
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import mmkeras  # noqa: E402, F401  (registers the classes)
from mmkeras.configs import caption_shapes  # noqa: E402


def main(source, target):
    model = keras.saving.load_model(source)
    conv = model.image_encoder.stem.convs[0]
    kernel = conv.kernel.numpy()
    kernel[:, :, :3] *= 255.0  # the RGB input channels, not coordinates
    conv.kernel.assign(kernel)
    images = caption_shapes.evaluation_set(16)[0]
    floats = (images / 255.0).astype("float32")
    if model.generate(images) != model.generate(floats):
        raise SystemExit("uint8 and float images still caption differently")
    model.save(target)
    print(f"wrote {target}: {model.generate(images[:2])}")


if __name__ == "__main__":
    main(*sys.argv[1:])
