"""`GenerativeServing`: the export of any `GenerativeTask`, built from its
`cache_spec`, `build_cache` and `call_with_cache` alone."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras import samplers
from mmkeras.models.serving import ExportError
from mmkeras.models.serving import Serving

# Samplers the ONNX consumer (export/consumers/run_onnx.py) runs in numpy.
ONNX_SAMPLERS = ("GreedySampler", "BeamSampler")


class GenerativeServing(Serving):
    """The serving side of a generating task, for any `GenerativeTask`.

    - SavedModel: `generate`, the generation inputs (`generation_specs`)
      in, token ids `(batch, sequence_length)` out, decoded with
      `sampler` in the graph (the sampler's `while_loop` over
      `call_with_cache`).
    - ONNX: `encoder`, the generation inputs in, every cache entry out
      (named after its path in the cache, e.g. `cross_0`, `self_0`) with
      the `initial_token_ids` and the `start_index`; and `decoder_step`,
      `token_ids` `(batch, 1)`, `index` and `past_<name>` for every entry
      in, the next token's `logits` (the pad token masked) and
      `present_<name>` for every entry out. `run_onnx.py` decodes with
      the two, feeding `present_*` back as `past_*`.

    The generation inputs are the model inputs named by the model's
    `generation_inputs` (one name: `build_cache` takes that tensor; a
    tuple: a dict of them; default `"token_ids"`, a prompt): pixels for a
    captioner, prompt ids for a language model. Families add their own
    signatures (a captioner's `caption` from image bytes) by subclassing.

    Args:
        model: a built `GenerativeTask`.
        sampler: a `mmkeras.samplers` name or instance for `generate` and
            the string signatures; ONNX exports take greedy or beam.
        max_length: ids per output, generation inputs included; default
            the model's `sequence_length`.
    """

    default_signature = "generate"

    def __init__(self, model, sampler="greedy", max_length=None):
        super().__init__(model)
        self.sampler = samplers.get(sampler)
        self.max_length = max_length or model.sequence_length
        self.cache_spec = model.cache_spec(self.max_length)
        self.cache_names = cache_names(self.cache_spec, generation_names(model))

    def generation_specs(self):
        """`{name: tf.TensorSpec}` of the generation inputs, batch None:
        float32 images, int32 ids."""
        shapes = self.model.input_shapes()
        return {
            name: tf.TensorSpec(
                shapes[name], tf.float32 if name == "image" else tf.int32, name
            )
            for name in generation_names(self.model)
        }

    def generation_inputs(self, inputs):
        """What `build_cache` takes, from the generation inputs by name."""
        names = self.model.generation_inputs
        if isinstance(names, str):
            return inputs[names]
        return {name: inputs[name] for name in names}

    def generate_ids(self, inputs):
        """Token ids decoded with `sampler` from generation inputs."""
        return self.model.generate_step(
            self.generation_inputs(inputs), self.sampler, self.max_length
        )

    def id_limits(self):
        """Token ids (prompts, decoder steps) index the vocabulary; the
        decoder step's `index`, the sequence."""
        return {
            "token_ids": self.model.vocabulary_size,
            "index": self.max_length,
        }

    def functions(self):
        return {"generate": self._generate_function()}

    def _generate_function(self):
        specs = self.generation_specs()

        @self.signature(specs.values())
        def generate(*args):
            inputs = dict(zip(specs, args, strict=True))
            return {"token_ids": self.generate_ids(inputs)}

        return generate

    def onnx_functions(self):
        return {"encoder": self._encoder(), "decoder_step": self._step()}

    def _encoder(self):
        specs = self.generation_specs()

        @self.signature(specs.values())
        def encoder(*args):
            return self.encode(dict(zip(specs, args, strict=True)))

        return encoder

    def encode(self, inputs):
        """The `encoder` graph's outputs: the cache entries by name, the
        `initial_token_ids` and the `start_index` of decoding (named
        apart from the inputs: ONNX names inputs and outputs alike)."""
        model = self.model
        inputs = self.generation_inputs(inputs)
        cache = model.build_cache(inputs, self.max_length)
        token_ids, start = model.initial_token_ids(
            inputs, cache, self.max_length
        )
        entries = keras.tree.flatten(cache)
        outputs = dict(zip(self.cache_names, entries, strict=True))
        outputs["initial_token_ids"] = ops.cast(token_ids, "int32")
        outputs["start_index"] = ops.convert_to_tensor(start, "int32")
        return outputs

    def _step(self):
        entries = keras.tree.flatten(self.cache_spec)
        signature = [
            tf.TensorSpec([None, 1], tf.int32, name="token_ids"),
            tf.TensorSpec([], tf.int32, name="index"),
        ] + [
            tf.TensorSpec(spec.shape, spec.dtype, name=f"past_{name}")
            for name, spec in zip(self.cache_names, entries, strict=True)
        ]

        @self.signature(signature)
        def decoder_step(token_ids, index, *past):
            return self.step(token_ids, index, list(past))

        return decoder_step

    def step(self, token_ids, index, past):
        """The `decoder_step` graph's outputs for the flat cache `past`."""
        model = self.model
        cache = keras.tree.pack_sequence_as(self.cache_spec, past)
        logits, cache = model.call_with_cache(token_ids, cache, index)
        outputs = {"logits": model.mask_pad_logits(logits[:, 0])}
        for name, entry in zip(
            self.cache_names, keras.tree.flatten(cache), strict=True
        ):
            outputs[f"present_{name}"] = entry
        return outputs

    def onnx_config(self):
        """What `run_onnx.py` needs to decode with the two graphs."""
        name = type(self.sampler).__name__
        if name not in ONNX_SAMPLERS:
            raise ExportError(
                "the ONNX consumer decodes greedily or with beam search; "
                "export ONNX with sampler='greedy' or 'beam'. Received: "
                f"sampler={name}"
            )
        model = self.model
        config = super().onnx_config()
        config.update(
            {
                "start_token_id": model.start_token_id,
                "end_token_id": model.end_token_id,
                "pad_token_id": model.pad_token_id,
                "max_length": self.max_length,
                "generation_inputs": list(self.generation_specs()),
                "cache": self.cache_names,
                "sampler": samplers.serialize(self.sampler),
                "special_token_ids": self.special_token_ids(),
            }
        )
        if self.tokenizer is not None:
            config["vocabulary"] = "vocabulary.txt"
        return config

    def special_token_ids(self):
        """Ids that detokenized text leaves out."""
        model = self.model
        special = {model.start_token_id, model.end_token_id}
        special.add(model.pad_token_id)
        tokenizer = self.tokenizer
        if tokenizer is not None:
            vocabulary = tokenizer.get_vocabulary()
            special.update(
                tokenizer.token_to_id(token)
                for kind, token in tokenizer.special_tokens.items()
                if kind != "unknown" and token in vocabulary
            )
        return sorted(int(i) for i in special)

    def examples(self, batch_size, seed):
        rng = np.random.default_rng(seed)
        inputs = self.example_generation_inputs(batch_size, rng)
        encoded = {
            k: ops.convert_to_numpy(v) for k, v in self.encode(inputs).items()
        }
        past = {f"past_{n}": encoded[n] for n in self.cache_names}
        # A step in mid-caption: any ids, the cache as `encoder` leaves it.
        index = np.array(min(2, self.max_length - 1), "int32")
        first = encoded["initial_token_ids"][:, :1]
        step = {"token_ids": first, "index": index}
        return {
            "generate": inputs,
            "encoder": inputs,
            "decoder_step": {**step, **past},
        }

    def example_generation_inputs(self, batch_size, rng):
        """Converted pixels for `"image"`, padded ids for the rest."""
        inputs = {}
        for name, spec in self.generation_specs().items():
            if name == "image":
                inputs[name] = self.example_images(batch_size, rng)[0]
            else:
                inputs[name] = self.example_ids(
                    batch_size, rng, spec.shape[1], self.model.vocabulary_size
                )
        return inputs

    def reference(self, name, inputs):
        if name == "generate":
            ids = tf.function(self.generate_ids, autograph=False)(inputs)
            return {"token_ids": ops.convert_to_numpy(ids)}
        if name == "encoder":
            outputs = self.encode(inputs)
        elif name == "decoder_step":
            past = [inputs[f"past_{n}"] for n in self.cache_names]
            outputs = self.step(inputs["token_ids"], inputs["index"], past)
        else:
            raise ExportError(f"{type(self).__name__} has no {name!r}")
        return {k: ops.convert_to_numpy(v) for k, v in outputs.items()}


def generation_names(model):
    """The model inputs `build_cache` takes, as a tuple of names."""
    names = model.generation_inputs
    return (names,) if isinstance(names, str) else tuple(names)


def cache_names(cache_spec, taken=()):
    """A name per cache entry, from its path: `{"self": [a, b]}` gives
    `self_0`, `self_1` (in `keras.tree.flatten` order). A name in `taken`
    (an input of the `encoder` graph: ONNX names inputs and outputs
    alike) gets the prefix `cache_`."""
    paths = keras.tree.flatten_with_path(cache_spec)
    names = ["_".join(str(key) for key in path) for path, _ in paths]
    return [f"cache_{name}" if name in taken else name for name in names]
