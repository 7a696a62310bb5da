"""`from_preset` loads the zoo entry's weights, as in KerasHub, through
the same code path as `mmkeras.zoo.load`: encoders (presets and entry
names) and tasks."""

import os
import types

import numpy as np
import pytest

import mmkeras
from mmkeras import zoo
from mmkeras.encoders import BertTextEncoder
from mmkeras.encoders import ConvImageEncoder
from mmkeras.encoders import EfficientNetLite0Encoder
from mmkeras.models import FusionClassifier
from mmkeras.models import Task
from mmkeras.testing import tiny_models
from mmkeras.zoo import loading

IMAGENET = "efficientnet_lite0.imagenet"


def _unnamed(config):
    """A Keras config without the layers' names (numbered per instance)."""
    if isinstance(config, dict):
        return {k: _unnamed(v) for k, v in config.items() if k != "name"}
    if isinstance(config, (list, tuple)):
        return [_unnamed(v) for v in config]
    return config


def _equal(a, b):
    weights = zip(a.get_weights(), b.get_weights(), strict=True)
    return all(np.array_equal(x, y) for x, y in weights)


@pytest.fixture(scope="module")
def imagenet():
    return zoo.load(IMAGENET)


def test_a_weights_preset_loads_the_entry_s_weights(imagenet):
    encoder = EfficientNetLite0Encoder.from_preset("lite0_imagenet_classifier")
    assert encoder.include_top and encoder.built
    assert _equal(encoder, imagenet)
    by_entry = EfficientNetLite0Encoder.from_preset(IMAGENET)
    assert _equal(by_entry, imagenet)


def test_load_weights_false_gives_the_architecture_alone(imagenet):
    encoder = EfficientNetLite0Encoder.from_preset(
        "lite0_imagenet_classifier", load_weights=False
    )
    shapes = [w.shape for w in encoder.weights]
    assert shapes == [w.shape for w in imagenet.weights]
    assert not _equal(encoder, imagenet)
    assert not hasattr(encoder, "class_names")  # untrained: names nothing


def test_the_cat_photo_is_a_cat_not_a_random_class(imagenet):
    photo = mmkeras.zoo.download(IMAGENET)["golden.npz"]
    with np.load(photo) as golden:
        images = golden["input/x"]
    encoder = EfficientNetLite0Encoder.from_preset("lite0_imagenet_classifier")
    logits = np.asarray(encoder(images.astype("float32"))["logits"])
    assert logits.argmax(-1).tolist() == [285, 967]
    # The entry's class names name them, with no network.
    names = encoder.class_names
    assert [names[i] for i in logits.argmax(-1)] == ["Egyptian_cat", "espresso"]
    assert len(names) == 1000 and names == imagenet.class_names
    assert (names[0], names[999]) == ("tench", "toilet_tissue")


def test_the_class_names_are_a_file_of_the_entry_with_their_source():
    manifest = zoo.info(IMAGENET)
    assert manifest["class_names"]["license"] == "Apache-2.0"
    assert "KerasHub" in manifest["class_names"]["source"]
    (entry,) = [f for f in manifest["files"] if f["name"].endswith(".txt")]
    assert entry["uri"] == f"file:{manifest['class_names']['file']}"
    card = os.path.join(zoo.registry.entry_dir(IMAGENET), "MODEL_CARD.md")
    with open(card, encoding="utf-8") as file:
        text = file.read()
    assert (
        "## Class names" in text and manifest["class_names"]["source"] in text
    )


def test_class_names_go_with_a_classifier_of_as_many_classes(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("cat\ndog\n")
    manifest = {"name": "x.y", "class_names": {"file": "names.txt"}}
    files = {"names.txt": str(path)}
    model = types.SimpleNamespace(num_classes=2, include_top=True)
    loading._name_classes(model, manifest, files, {})
    assert model.class_names == ("cat", "dog")
    resized = types.SimpleNamespace(num_classes=3)
    loading._name_classes(resized, manifest, files, {"num_classes": 3})
    assert not hasattr(resized, "class_names")
    with pytest.raises(zoo.ZooError, match="holds 2 class names, but the "):
        loading._name_classes(resized, manifest, files, {})
    path.write_text("cat\n\ndog\n")
    with pytest.raises(zoo.ZooError, match="line 2 is not a class name"):
        loading._name_classes(model, manifest, files, {})


def test_overrides_keep_every_weight_the_changed_model_has(imagenet):
    headless = EfficientNetLite0Encoder.from_preset(
        "lite0_imagenet_classifier",
        include_top=False,
        input_scale=1.0,
        freeze_batch_norm=True,
    )
    assert not headless.include_top and headless.input_scale == 1.0
    assert not hasattr(headless, "class_names")  # no classifier to name
    by_path = {w.path.split("/", 1)[1]: w for w in imagenet.weights}
    assert len(headless.weights) == len(imagenet.weights) - 2
    for weight in headless.weights:
        expected = by_path[weight.path.split("/", 1)[1]]
        np.testing.assert_array_equal(weight.numpy(), expected.numpy())


def test_an_architecture_preset_asked_for_weights_is_an_error():
    with pytest.raises(ValueError) as error:
        ConvImageEncoder.from_preset("tiny", load_weights=True)
    message = str(error.value)
    assert "preset 'tiny' is architecture only" in message
    assert "load_weights=False" in message
    # Left to the default, it is the architecture, as its name says.
    assert not ConvImageEncoder.from_preset("tiny").built
    with pytest.raises(ValueError, match="minilm_l6, minilm_l6.sentence"):
        BertTextEncoder.from_preset("bert_base", load_weights=True)


def test_unknown_presets_list_presets_and_entries():
    with pytest.raises(ValueError) as error:
        EfficientNetLite0Encoder.from_preset("lite1")
    message = str(error.value)
    assert "Available presets: lite0, lite0_imagenet_classifier" in message
    assert "zoo entries: efficientnet_lite0.imagenet" in message
    assert "Did you mean 'lite0'" in message


def test_an_entry_of_another_family_is_named():
    with pytest.raises(ValueError, match="holds a BertTextEncoder"):
        EfficientNetLite0Encoder.from_preset("minilm_l6.sentence")
    with pytest.raises(ValueError, match="not a FusionClassifier"):
        FusionClassifier.from_preset("test_vqa.tiny")


def test_an_override_the_model_lacks_is_named():
    with pytest.raises(ValueError, match="has no argument nope"):
        EfficientNetLite0Encoder.from_preset(IMAGENET, nope=1)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """A catalogue with one freshly written tiny fusion entry."""
    folder = tmp_path_factory.mktemp("catalogue")
    model = tiny_models.model("fusion")
    model.compile()
    path = str(folder / "model.keras")
    model.save(path)
    manifest = {
        **zoo.info("test_fusion.tiny"),
        "name": "preset_fusion.tiny",
    }
    del manifest["files"]
    zoo.write_entry(
        str(folder), manifest, [{"name": "model.keras", "path": path}]
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMKERAS_ZOO_CATALOGUE", str(folder))
        yield model


def test_a_task_loads_the_entry_s_weights(catalogue):
    model = FusionClassifier.from_preset("preset_fusion.tiny")
    assert type(model) is FusionClassifier and model.compiled
    assert _equal(model, catalogue)
    assert _equal(Task.from_preset("preset_fusion.tiny"), catalogue)
    assert _equal(zoo.load("preset_fusion.tiny"), catalogue)
    assert model.preprocessor is not None


def test_a_task_without_weights_has_the_entry_s_architecture(catalogue):
    fresh = FusionClassifier.from_preset(
        "preset_fusion.tiny", load_weights=False
    )
    assert _unnamed(fresh.get_config()) == _unnamed(catalogue.get_config())
    assert fresh.input_shapes() == catalogue.input_shapes()
    assert not _equal(fresh, catalogue)


def test_a_task_with_overrides_keeps_the_weights(catalogue):
    model = FusionClassifier.from_preset("preset_fusion.tiny", dropout=0.25)
    assert model.dropout == 0.25 and model.compiled
    assert _equal(model, catalogue)
