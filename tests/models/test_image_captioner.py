import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmkeras
from mmkeras.models.image_captioner import ImageCaptioner

LENGTH = 12  # start token and the longest caption, 10 words
RESERVED = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def _captions(num_images=8):
    elements = list(
        mmkeras.data.shapes_captions(
            num_images, seed=0, split="train", captions_per_image=1
        ).as_numpy_iterator()
    )
    images = np.stack([e["image"] for e in elements])
    return images, [e["caption"].decode() for e in elements]


def _tokenizer(captions):
    words = sorted({w for c in captions for w in c.split()})
    return mmkeras.text.WordPieceTokenizer(
        RESERVED + words, sequence_length=LENGTH + 1, add_start_end=True
    )


def _captioner(tokenizer, **kwargs):
    encoder = mmkeras.encoders.ConvImageEncoder(
        filters=(8, 16, 16, 16), hidden_dim=16, normalization="layer"
    )
    kwargs = {
        "vocabulary_size": tokenizer.vocabulary_size() if tokenizer else 30,
        "sequence_length": LENGTH,
        "num_layers": 2,
        "num_heads": 2,
        "hidden_dim": 32,
        "intermediate_dim": 64,
        "tokenizer": tokenizer,
        "xla": False,  # compiling the attention cores would double the time
        **kwargs,
    }
    return ImageCaptioner(encoder, **kwargs)


def _dataset(model, images, captions, batch_size=4):
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": images, "caption": captions}
    )
    return ds.batch(batch_size).map(model.preprocess)


@pytest.fixture(scope="module")
def data():
    return _captions()


@pytest.fixture(scope="module")
def model(data):
    """A captioner overfitted to the 8 captions, so decoding is varied."""
    images, captions = data
    keras.utils.set_random_seed(0)
    captioner = _captioner(_tokenizer(captions))
    captioner.compile(optimizer=keras.optimizers.Adam(3e-3))
    ds = _dataset(captioner, images, captions, batch_size=8)
    captioner.fit(ds.cache().repeat(), steps_per_epoch=150, verbose=0)
    return captioner


def _batch(model, data):
    return next(iter(_dataset(model, *data)))


def _prediction_inputs(model, data):
    return _batch(model, data)[0]


def test_basics(model, data):
    # `model` was built and fitted by its fixture: 2 more steps, same data.
    images, captions = data
    ds = _dataset(model, images, captions, batch_size=8)
    history = model.fit(ds.repeat(), steps_per_epoch=2, verbose=0)
    assert history.history["loss"][0] < 0.2, "the fixture did not train"
    inputs = _prediction_inputs(model, data)
    logits = model.predict(inputs, verbose=0)
    assert logits.shape == (4, LENGTH, model.vocabulary_size)
    config = model.get_config()
    assert ImageCaptioner.from_config(config).get_config() == config
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "captioner.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(inputs, verbose=0), logits)
    assert reloaded.generate(images) == model.generate(images)


def test_uint8_images_are_scaled_like_floats_in_graph_and_eagerly(model, data):
    # Training feeds uint8 tensors from tf.data; serving and `explain`
    # feed floats in [0, 1]. Both must reach the encoder alike.
    images = data[0]
    expected = np.asarray(model.encode_images(images / 255.0))
    eager = model.encode_images(tf.constant(images))
    in_graph = tf.function(model.encode_images)(tf.constant(images))
    np.testing.assert_allclose(np.asarray(eager), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(in_graph), expected, atol=1e-5)
    assert model.generate(images) == model.generate(images / 255.0)


def test_preprocess_shifts_ids_by_one(model, data):
    inputs, labels = _batch(model, data)
    ids = model.tokenizer(data[1][:4]).numpy()
    np.testing.assert_array_equal(inputs["token_ids"], ids[:, :-1])
    np.testing.assert_array_equal(labels, ids[:, 1:])
    assert np.all(inputs["token_ids"][:, 0] == model.start_token_id)


def test_call_with_cache_matches_full_pass(model, data):
    inputs = _prediction_inputs(model, data)
    ids = inputs["token_ids"].numpy()
    full = model(inputs).numpy()
    cache = model.build_cache(inputs["image"], LENGTH)
    real = ids != model.pad_token_id
    for index in range(LENGTH):
        logits, cache = model.call_with_cache(
            ids[:, index : index + 1], cache, index
        )
        # Padded positions attend to fewer keys in the full pass.
        rows = real[:, index]
        np.testing.assert_allclose(
            logits.numpy()[rows, 0], full[rows, index], atol=1e-5, rtol=1e-6
        )


def _uncached_greedy(model, images, max_length):
    """Re-runs the full forward pass on the growing prefix, in numpy."""
    ids = np.full((len(images), 1), model.start_token_id, "int32")
    done = np.zeros(len(images), bool)
    for _ in range(max_length - 1):
        logits = model({"image": images, "token_ids": ids}).numpy()[:, -1]
        logits[:, model.pad_token_id] = -np.inf
        tokens = np.where(done, model.pad_token_id, logits.argmax(-1))
        done |= tokens == model.end_token_id
        ids = np.concatenate([ids, tokens[:, None].astype("int32")], axis=1)
    return ids


def test_cached_greedy_equals_uncached(model, data):
    images = data[0]
    cached = model.generate(images, max_length=LENGTH, return_strings=False)
    expected = _uncached_greedy(model, images, LENGTH)
    np.testing.assert_array_equal(cached, expected)
    assert len({tuple(row) for row in cached}) > 1, "decoding is degenerate"


def test_beam_width_one_equals_greedy(model, data):
    images = data[0]
    greedy = model.generate(images, return_strings=False)
    beam = model.generate(
        images,
        sampler=mmkeras.samplers.BeamSampler(num_beams=1),
        return_strings=False,
    )
    np.testing.assert_array_equal(beam, greedy)


def test_jit_compile_gives_the_same_tokens(model, data):
    images = data[0]
    for sampler in ["greedy", mmkeras.samplers.BeamSampler(num_beams=3)]:
        plain = model.generate(images, sampler=sampler, return_strings=False)
        compiled = model.generate(
            images, sampler=sampler, jit_compile=True, return_strings=False
        )
        np.testing.assert_array_equal(compiled, plain)


def test_generate_returns_strings(model, data):
    images = data[0][:3]
    ids = model.generate(images, return_strings=False)
    strings = model.generate(images)
    vocabulary = model.tokenizer.get_vocabulary()
    for row, text in zip(ids, strings, strict=True):
        words = [vocabulary[i] for i in row[1:] if i > 3]
        assert text == " ".join(words)
    assert isinstance(strings[0], str)


def test_overfits_eight_captions(model, data):
    images, captions = data
    generated = model.generate(images)
    assert generated == captions


def _train(strategy, initial_weights, data, tokenizer):
    with strategy.scope():
        model = _captioner(tokenizer)
        model(_prediction_inputs(model, data))
        model.set_weights(initial_weights)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(
        _dataset(model, *data), epochs=1, shuffle=False, verbose=0
    )
    return model.get_weights(), history.history["loss"][0]


def test_mirrored_training_matches_single_device(model, data):
    initial = model.get_weights()
    # The masked loss is a mean over each replica's real tokens, averaged
    # over replicas: exact parity needs equal token counts per replica.
    images, captions = data
    data = images, [captions[i % 2] for i in range(len(captions))]
    single_weights, single_loss = _train(
        tf.distribute.get_strategy(), initial, data, model.tokenizer
    )
    strategy = mmkeras.training.strategy(devices=["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    weights, loss = _train(strategy, initial, data, model.tokenizer)
    np.testing.assert_allclose(loss, single_loss, atol=1e-4)
    assert any(
        not np.allclose(a, b)
        for a, b in zip(single_weights, initial, strict=True)
    )
    for mirrored, single in zip(weights, single_weights, strict=True):
        np.testing.assert_allclose(mirrored, single, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocabulary_size": 0}, "vocabulary_size=0"),
        ({"sequence_length": -1}, "sequence_length=-1"),
        ({"num_layers": 0}, "num_layers=0"),
        ({"num_heads": 3}, "num_heads=3"),
        ({"dropout": 1.5}, "dropout=1.5"),
        ({"end_token_id": 500}, "end_token_id=500"),
        ({"pad_token_id": -1}, "pad_token_id=-1"),
        ({"vocabulary_size": 5}, "vocabulary_size=5"),
        ({"sequence_length": 4}, "tokenizer.sequence_length=13"),
        ({"tokenizer": None, "start_token_id": None}, "start_token_id=None"),
    ],
)
def test_bad_arguments(data, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        kwargs = {"tokenizer": _tokenizer(data[1]), **kwargs}
        _captioner(**kwargs)


def test_bad_max_length(model, data):
    with pytest.raises(ValueError, match=f"max_length={LENGTH + 1}"):
        model.generate(data[0], max_length=LENGTH + 1)


def test_coordinates_tag_each_image_token_with_its_grid_position(data):
    images, captions = data
    keras.utils.set_random_seed(0)
    model = _captioner(_tokenizer(captions), coordinates=True)
    inputs = _prediction_inputs(model, data)
    logits = model(inputs).numpy()
    tokens = model.image_encoder(images / 255.0)["tokens"].numpy()
    # 75 px through four stride-2 convs: a 5x5 grid, row by row.
    assert tokens.shape[1] == 25
    rows, columns = np.divmod(np.arange(25), 5)
    grid = np.stack([rows, columns], -1) / 2.0 - 1.0
    # Tokens scaled to RMS norm 1 per image, so position weighs as much
    # as content; their relative sizes are kept.
    rms = np.sqrt(np.mean(np.sum(tokens**2, -1), 1))[:, None, None]
    tagged = np.concatenate(
        [tokens / rms, np.broadcast_to(grid, (8, 25, 2))], -1
    )
    np.testing.assert_allclose(
        model.encode_images(images / 255.0),
        model.image_projection(tagged.astype("float32")),
        atol=1e-5,
    )
    assert model.get_config()["coordinates"] is True
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "captioner.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded(inputs).numpy(), logits)


class _PixelTokens(keras.layers.Layer):
    """Every pixel a token: as many tokens as the image has pixels."""

    def call(self, images):
        batch = keras.ops.shape(images)[0]
        return {"tokens": keras.ops.reshape(images, (batch, -1, 3))}


def test_coordinates_need_a_static_number_of_image_tokens(data):
    model = ImageCaptioner(
        _PixelTokens(),
        vocabulary_size=30,
        sequence_length=LENGTH,
        hidden_dim=16,
        start_token_id=2,
        end_token_id=3,
        coordinates=True,
    )
    with pytest.raises(
        ValueError,
        match=r"ImageCaptioner\(coordinates=True\) tags image tokens .*"
        r"static.*\(None, None, 3\)",
    ):
        model.build({"image": (None, None, None, 3)})


def test_shapes_score_accounts_for_every_caption():
    from mmkeras.configs import caption_shapes

    keras.utils.set_random_seed(0)
    model = caption_shapes.model(16, 1, filters=(8, 8, 8, 8))
    scores = caption_shapes.score(model, caption_shapes.evaluation_set(10))
    # Untrained, so most captions are false; each in exactly one way.
    assert list(scores["falsehoods"]) == [
        caption_shapes.UNGRAMMATICAL,
        *mmkeras.data._captions.FALSEHOODS,
    ]
    total = scores["truthfulness"] + sum(scores["falsehoods"].values())
    assert total == pytest.approx(1.0)
    grammar = caption_shapes.all_captions()
    scenes = caption_shapes.evaluation_set(6)[2]
    for (text, true), scene in zip(scores["examples"], scenes, strict=True):
        assert true == (text in grammar and grammar[text].is_true(scene))


def test_reference_losses_rank_the_ideal_captioners():
    from mmkeras.configs import caption_shapes

    full, blind = caption_shapes.reference_losses(20).values()
    # About 130 true captions of ~11 tokens each: log(130) / 11 ~ 0.5;
    # not knowing where objects are leaves every relation open.
    assert 0.45 < full < blind < 0.65
    assert blind - full > 0.05


def test_shapes_datasets_transform_every_example_before_tokenizing():
    from mmkeras.configs import caption_shapes

    def blank(example):
        return example | {"image": tf.zeros((2, 2, 1))}

    plain = caption_shapes.datasets(8, 4, batch_size=4, captions=1)
    blanked = caption_shapes.datasets(
        8, 4, batch_size=4, captions=1, transform=blank
    )
    for split, blanked_split in zip(plain, blanked, strict=True):
        (inputs, labels), (blank_inputs, blank_labels) = (
            next(iter(s)) for s in (split, blanked_split)
        )
        assert blank_inputs["image"].shape == (4, 2, 2, 1)
        assert not np.any(blank_inputs["image"])
        assert inputs["image"].shape[1:] == (75, 75, 3)
        np.testing.assert_array_equal(blank_labels, labels)
