import numpy as np
import pytest

from mmkeras.layers.vision import ConvStem
from mmkeras.testing import run_layer_test
from tests.layers.vision.cases import VISION_CASES

_IMAGES = VISION_CASES["ConvStem"]["args"][0]


def test_basics():
    run_layer_test(ConvStem, **VISION_CASES["ConvStem"])


@pytest.mark.parametrize("normalization", ["layer", "group"])
def test_batch_independent_normalization_variants(normalization):
    run_layer_test(
        ConvStem,
        init_kwargs=dict(filters=(4, 8), normalization=normalization),
        args=(_IMAGES,),
        expected_output_shape=(2, 16, 8),
        expected_num_trainable_weights=7,
        run_mixed_precision=False,
    )
    layer = ConvStem(filters=(4, 8), normalization=normalization)
    layer(_IMAGES)
    # No moving statistics, hence nothing that differs between replicas.
    assert layer.non_trainable_weights == []


def _gray_square_on(page):
    """A white or black page with the same gray square in its middle."""
    images = np.full((1, 16, 16, 3), page, "float32")
    images[:, 4:12, 4:12] = 0.5
    return images


def test_group_normalization_sees_gray_on_white_and_layer_does_not():
    # The layer-norm blind spot: a bias-free conv maps a gray region to
    # half the features of a white one, and per-pixel normalization
    # removes the factor, so a gray square on a white page is invisible.
    gray_on_white = _gray_square_on(1.0)
    blank = np.ones_like(gray_on_white)
    for normalization, visible in (("layer", False), ("group", True)):
        layer = ConvStem(
            filters=(8,),
            kernel_size=1,
            normalization=normalization,
            use_position_embedding=False,
        )
        difference = np.abs(layer(gray_on_white) - layer(blank)).max()
        # Layer norm's epsilon leaves up to ~1e-2 (random weights);
        # group norm's difference is above 0.3.
        assert (difference > 5e-2) == visible, (normalization, difference)
    # Group norm normalizes the image as a whole: a gray square still
    # differs between a white and a black page.
    layer = ConvStem(filters=(8,), kernel_size=1, normalization="group")
    on_white = np.asarray(layer(_gray_square_on(1.0)))
    on_black = np.asarray(layer(_gray_square_on(0.0)))
    assert np.abs(on_white - on_black).max() > 1e-2


def test_coordinates_variant():
    run_layer_test(
        ConvStem,
        init_kwargs=dict(filters=(4, 8), coordinates=True),
        args=(_IMAGES,),
        expected_output_shape=(2, 16, 8),
        run_mixed_precision=False,
    )
    layer = ConvStem(filters=(4,), coordinates=True)
    layer(_IMAGES)
    # Two more input channels: the pixel's row and column.
    assert layer.convs[0].kernel.shape == (3, 3, 5, 4)


def test_coordinates_tell_where_a_token_is_on_a_blank_image():
    blank = np.ones((1, 16, 16, 3), "float32")
    for coordinates in (False, True):
        layer = ConvStem(
            filters=(8,),
            kernel_size=1,
            normalization=None,
            use_position_embedding=False,
            coordinates=coordinates,
        )
        tokens = np.asarray(layer(blank))[0]
        spread = np.abs(tokens - tokens[0]).max()
        assert (spread > 1e-3) == coordinates, (coordinates, spread)


def test_context_layers_variant():
    run_layer_test(
        ConvStem,
        init_kwargs=dict(filters=(4, 8), context_layers=2),
        args=(_IMAGES,),
        expected_output_shape=(2, 16, 8),
        run_mixed_precision=False,
    )
    layer = ConvStem(filters=(4, 8), context_layers=3)
    layer(_IMAGES)
    rates = [conv.dilation_rate for conv, _ in layer.context]
    assert rates == [(1, 1), (2, 2), (4, 4)]
    # Each block keeps the channels, so it can be added to its input.
    assert [conv.kernel.shape for conv, _ in layer.context] == [
        (3, 3, 8, 8)
    ] * 3


def test_context_layers_widen_what_a_token_sees():
    # One lit pixel reaches the 2x2 tokens whose stride-2 3x3 windows
    # hold it; a context block (3x3, dilation 1) spreads that to 4x4.
    image = np.zeros((1, 16, 16, 3), "float32")
    image[0, 8, 8] = 1.0
    reached = {}
    for context_layers in (0, 1):
        layer = ConvStem(
            filters=(4,),
            activation=None,  # linear, so no ReLU can hide the change
            normalization=None,
            use_position_embedding=False,
            context_layers=context_layers,
        )
        lit = np.asarray(layer(image))[0] - np.asarray(layer(0 * image))[0]
        reached[context_layers] = int((np.abs(lit).max(-1) > 1e-6).sum())
    assert reached == {0: 4, 1: 16}


def test_two_blocks_give_a_4x4_grid_of_tokens():
    layer = ConvStem(filters=(4, 8))
    assert layer(_IMAGES).shape == (2, 16, 8)
    assert layer.position_embedding.shape == (16, 8)


def test_odd_image_size_rounds_up():
    layer = ConvStem(filters=(4, 8), hidden_dim=6)
    images = np.zeros((2, 15, 13, 3), "float32")
    # 15x13 -> 8x7 -> 4x4.
    assert layer(images).shape == (2, 16, 6)
    assert layer.compute_output_shape(images.shape) == (2, 16, 6)


def test_one_block_matches_numpy_reference():
    # A 1x1 stride-2 conv without normalization samples every other pixel.
    layer = ConvStem(
        filters=(5,),
        kernel_size=1,
        activation=None,
        normalization=None,
        use_position_embedding=False,
    )
    outputs = np.asarray(layer(_IMAGES))
    kernel, bias = (w.numpy() for w in layer.convs[0].weights)
    expected = _IMAGES[:, ::2, ::2] @ kernel[0, 0] + bias
    np.testing.assert_allclose(outputs, expected.reshape(2, 64, 5), atol=1e-5)


def test_position_embedding_is_added_per_token():
    layer = ConvStem(filters=(4, 8), normalization="layer")
    before = np.asarray(layer(_IMAGES))
    offset = np.arange(16 * 8, dtype="float32").reshape(16, 8)
    layer.position_embedding.assign(layer.position_embedding + offset)
    after = np.asarray(layer(_IMAGES))
    np.testing.assert_allclose(after - before, np.stack([offset] * 2), 1e-5)


def test_batch_normalization_uses_batch_statistics_in_training():
    layer = ConvStem(
        filters=(4,), activation=None, use_position_embedding=False
    )
    outputs = np.asarray(layer(_IMAGES, training=True))
    np.testing.assert_allclose(outputs.mean(axis=(0, 1)), 0.0, atol=1e-5)
    # Not exactly 1: BatchNormalization's epsilon (1e-3) is not negligible
    # next to the small variance of the conv outputs.
    np.testing.assert_allclose(outputs.var(axis=(0, 1)), 1.0, atol=5e-2)
    inference = np.asarray(layer(_IMAGES, training=False))
    assert not np.allclose(outputs, inference, atol=1e-2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(filters=()), r"filters=\(\)"),
        (dict(filters=(4, 0)), r"filters=\(4, 0\)"),
        (dict(filters=8), "filters=8"),
        (dict(kernel_size=0), "kernel_size=0"),
        (dict(hidden_dim=0), "hidden_dim=0"),
        (dict(normalization="instance"), "normalization='instance'"),
        (dict(context_layers=-1), "non-negative integer.*context_layers=-1"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvStem(**kwargs)


def test_rejects_bad_rank():
    layer = ConvStem(filters=(4,))
    with pytest.raises(ValueError, match=r"rank 4.*\(2, 16, 16\)"):
        layer(np.zeros((2, 16, 16), "float32"))


def test_rejects_dynamic_image_size_with_position_embedding():
    layer = ConvStem(filters=(4,))
    with pytest.raises(ValueError, match=r"\(None, None, None, 3\)"):
        layer.build((None, None, None, 3))


def test_dynamic_image_size_without_position_embedding():
    layer = ConvStem(filters=(4,), use_position_embedding=False)
    layer.build((None, None, None, 3))
    assert layer(_IMAGES).shape == (2, 64, 4)
    shape = layer.compute_output_shape((None, None, 16, 3))
    assert shape == (None, None, 4)


def test_rejects_a_different_image_size_after_build():
    layer = ConvStem(filters=(4, 8))
    layer(_IMAGES)
    with pytest.raises(ValueError, match=r"16 tokens.*\(2, 32, 32, 3\)"):
        layer(np.zeros((2, 32, 32, 3), "float32"))
