"""Export of `ImageCaptioner`: captions from image bytes, greedy or beam
decoding with the KV cache in the graph, and encoder + decoder-step ONNX
graphs."""

import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import samplers
from mmkeras.export._family import Family


class CaptionerFamily(Family):
    default_signature = "caption"

    def __init__(self, model, sampler="greedy"):
        super().__init__(model)
        self.sampler = samplers.get(sampler)

    def _generate(self, images):
        return self.model.generate_step(
            images, self.sampler, self.model.sequence_length
        )

    def functions(self):
        model = self.model

        @tf.function(
            autograph=False,
            input_signature=[
                self.images_spec(),
                tf.TensorSpec(
                    [None, model.sequence_length], tf.int32, name="token_ids"
                ),
            ],
        )
        def logits(image, token_ids):
            return {"logits": model({"image": image, "token_ids": token_ids})}

        @tf.function(autograph=False, input_signature=[self.images_spec()])
        def caption_ids(image):
            return {"token_ids": self._generate(image)}

        functions = {"logits": logits, "caption_ids": caption_ids}
        if self.tokenizer is not None:

            @tf.function(autograph=False, input_signature=[self.bytes_spec()])
            def caption(image_bytes):
                ids = self._generate(self.decode(image_bytes))
                return {"captions": model.tokenizer.detokenize(ids)}

            functions["caption"] = caption
        return functions

    def onnx_functions(self):
        model = self.model
        blocks = model.decoder_blocks
        length = model.sequence_length

        @tf.function(autograph=False, input_signature=[self.images_spec()])
        def encoder(image):
            cache = model.build_cache(image, length)
            return {"cross_cache": tf.stack(cache["cross"])}

        cross_shape = self._cross_cache_shape()
        self_shape = self._cross_cache_shape()
        self_shape[3] = length

        @tf.function(
            autograph=False,
            input_signature=[
                tf.TensorSpec([None, 1], tf.int32, name="token_ids"),
                tf.TensorSpec([], tf.int32, name="index"),
                tf.TensorSpec(self_shape, tf.float32, name="past_self_cache"),
                tf.TensorSpec(cross_shape, tf.float32, name="cross_cache"),
            ],
        )
        def decoder_step(token_ids, index, past_self_cache, cross_cache):
            # ONNX names inputs and outputs alike, so past and present.
            cache = {
                "cross": tf.unstack(cross_cache, len(blocks)),
                "self": tf.unstack(past_self_cache, len(blocks)),
            }
            logits, cache = model.call_with_cache(token_ids, cache, index)
            never = tf.range(model.vocabulary_size) == model.pad_token_id
            return {
                "logits": tf.where(never, -1e9, logits[:, 0]),
                "present_self_cache": tf.stack(cache["self"]),
            }

        return {"encoder": encoder, "decoder_step": decoder_step}

    def _cross_cache_shape(self):
        """`(blocks, batch, 2, image tokens, heads, head_dim)`."""
        model = self.model
        image = tf.zeros((1, *self.image_shape[1:]))
        cross = model.build_cache(image, model.sequence_length)["cross"][0]
        return [len(model.decoder_blocks), None, *cross.shape[1:]]

    def onnx_config(self):
        """What `run_onnx.py` needs to decode greedily with the graphs."""
        model = self.model
        self_cache_shape = self._cross_cache_shape()
        self_cache_shape[3] = model.sequence_length
        special = {model.start_token_id, model.end_token_id}
        special.add(model.pad_token_id)
        if self.tokenizer is not None:
            special.update(
                self.tokenizer.token_to_id(token)
                for kind, token in self.tokenizer.special_tokens.items()
                if kind != "unknown"
                and token in self.tokenizer.get_vocabulary()
            )
        return {
            "start_token_id": model.start_token_id,
            "end_token_id": model.end_token_id,
            "pad_token_id": model.pad_token_id,
            "max_length": model.sequence_length,
            "self_cache_shape": self_cache_shape,
            "special_token_ids": sorted(special),
        }

    def examples(self, batch_size, seed):
        rng = np.random.default_rng(seed)
        pixels, encoded = self.example_images(batch_size, rng)
        ids = self.example_ids(
            batch_size,
            rng,
            self.model.sequence_length,
            self.model.vocabulary_size,
        )
        examples = {
            "logits": {"image": pixels, "token_ids": ids},
            "caption_ids": {"image": pixels},
            "encoder": {"image": pixels},
            "generate": {"image": pixels},
        }
        if self.tokenizer is not None:
            examples["caption"] = {"image_bytes": encoded}
        return examples

    def reference(self, name, inputs):
        model = self.model
        if name == "logits":
            return {"logits": ops.convert_to_numpy(model(inputs))}
        if name == "encoder":
            cache = model.build_cache(inputs["image"], model.sequence_length)
            return {"cross_cache": ops.convert_to_numpy(cache["cross"])}
        sampler = self.sampler if name == "caption_ids" else "greedy"
        if name == "caption":
            pixels = self.pixels_of(inputs["image_bytes"])
            captions = model.generate(pixels, self.sampler)
            return {
                "captions": np.array([c.encode() for c in captions], object)
            }
        ids = model.generate(inputs["image"], sampler, return_strings=False)
        return {"token_ids": ids}
