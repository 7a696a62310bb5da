"""`GenerativeServing` exports any `GenerativeTask` from its cache spec:
shown on a toy decoder-only language model whose `build_cache` takes
prompt ids (no images, no family code of its own for serving)."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras.layers import TokenAndPositionEmbedding
from mmkeras.layers import TransformerDecoderBlock
from mmkeras.models import GenerativeServing
from mmkeras.models.generative_task import GenerativeTask
from mmkeras.testing import run_export_test
from mmkeras.testing import run_generation_test

VOCABULARY, LENGTH, PROMPT = 20, 8, 3


class ToyLM(GenerativeTask):
    """Continues a `PROMPT`-token prompt: `build_cache` runs the prompt
    through the cache, decoding starts after it."""

    serving_cls = GenerativeServing
    vocabulary_size, sequence_length = VOCABULARY, LENGTH
    start_token_id, end_token_id, pad_token_id = 1, 2, 0

    def build(self, inputs_shape):
        if isinstance(inputs_shape, dict):
            inputs_shape = inputs_shape["token_ids"]
        shape = (inputs_shape[0], LENGTH)
        self._record_input_shapes({"token_ids": shape})
        self.embedding = TokenAndPositionEmbedding(VOCABULARY, LENGTH, 16)
        self.embedding.build(shape)
        self.blocks = [TransformerDecoderBlock(2, 32, xla=False)]
        self.blocks[0].build(shape + (16,))
        self.head = keras.layers.Dense(VOCABULARY)
        self.head.build(shape + (16,))

    def call(self, inputs):
        token_ids = inputs["token_ids"]
        mask = ops.not_equal(token_ids, self.pad_token_id)
        x = self.embedding(token_ids)
        for block in self.blocks:
            x = block(x, decoder_padding_mask=mask)
        return self.head(x)

    def build_cache(self, token_ids, max_length):
        batch = ops.shape(token_ids)[0]
        blocks = self.blocks
        cache = {"self": [b.empty_cache(batch, max_length) for b in blocks]}
        for index in range(PROMPT - 1):
            _, cache = self.call_with_cache(
                token_ids[:, index : index + 1], cache, index
            )
        return cache

    def call_with_cache(self, token_ids, cache, index):
        x = self.embedding(token_ids, start_index=index)
        caches = []
        for block, entry in zip(self.blocks, cache["self"], strict=True):
            x, entry = block(
                x,
                self_attention_cache=entry,
                self_attention_cache_update_index=index,
            )
            caches.append(entry)
        return self.head(x), {"self": caches}

    def cache_spec(self, max_length):
        shape = (None, 2, max_length, 2, 8)
        return {"self": [tf.TensorSpec(shape, "float32") for _ in self.blocks]}

    def initial_token_ids(self, token_ids, cache, max_length):
        keep = ops.arange(max_length)[None] < PROMPT
        return ops.where(keep, token_ids, self.pad_token_id), PROMPT


def _toy():
    keras.utils.set_random_seed(1)
    model = ToyLM()
    model({"token_ids": np.ones((1, LENGTH), "int32")})
    return model


def _prompts(batch=3):
    rng = np.random.default_rng(0)
    return rng.integers(3, VOCABULARY, (batch, LENGTH)).astype("int32")


def test_the_toy_language_model_decodes_as_its_full_pass():
    ids = run_generation_test(_toy(), _prompts())
    np.testing.assert_array_equal(ids[:, :PROMPT], _prompts()[:, :PROMPT])


def test_signatures_and_graphs_come_from_the_cache_spec():
    serving = _toy().serving()
    assert serving.cache_names == ["self_0"]
    assert set(serving.functions()) == {"generate"}
    assert set(serving.onnx_functions()) == {"encoder", "decoder_step"}
    step = serving.onnx_functions()["decoder_step"]
    assert [s.name for s in step.input_signature] == [
        "token_ids",
        "index",
        "past_self_0",
    ]
    config = serving.onnx_config()
    assert "image_size" not in config and "vocabulary" not in config
    assert config["generation_inputs"] == ["token_ids"]
    assert config["cache"] == ["self_0"]
    assert config["special_token_ids"] == [0, 1, 2]


def test_the_generate_signature_continues_the_prompt():
    model = _toy()
    serving = model.serving(sampler="beam")
    prompts = _prompts()
    ids = serving.functions()["generate"](tf.constant(prompts))["token_ids"]
    expected = model.generate(prompts, sampler="beam")
    np.testing.assert_array_equal(ids, expected)


def test_a_decoder_only_model_exports_verified(tmp_path):
    # The encoder takes prompt ids, the decoder loop starts after them.
    written = run_export_test(_toy(), tmp_path, "all")
    assert set(written) == {"saved_model", "onnx"}
