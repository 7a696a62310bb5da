import numpy as np
import tensorflow as tf
from keras import ops

from mmkeras.models.generative_serving import GenerativeServing


class CaptionerServing(GenerativeServing):
    """Export of `ImageCaptioner`: what `GenerativeServing` gives any
    generating task (`generate`: pixels in, caption ids out; the ONNX
    `encoder` and `decoder_step`), plus `logits` (pixels and caption ids
    in, teacher-forced logits out) and, with a tokenizer, `caption`
    (encoded image bytes in, caption strings out: decoding, the
    preprocessor's image converter, the sampler and detokenization all
    in the graph)."""

    default_signature = "caption"

    def functions(self):
        model = self.model
        ids_spec = tf.TensorSpec(
            [None, model.sequence_length], tf.int32, name="token_ids"
        )

        @self.signature([self.images_spec(), ids_spec])
        def logits(image, token_ids):
            return {"logits": model({"image": image, "token_ids": token_ids})}

        functions = {**super().functions(), "logits": logits}
        if self.tokenizer is not None:

            @self.signature([self.bytes_spec()])
            def caption(image_bytes):
                ids = self.generate_ids({"image": self.decode(image_bytes)})
                return {"captions": self.tokenizer.detokenize(ids)}

            functions["caption"] = caption
        return functions

    def onnx_config(self):
        config = super().onnx_config()
        if self.tokenizer is not None:
            # run_onnx.py --image captions, as the caption signature.
            config["request"] = {"task": "caption"}
        return config

    def examples(self, batch_size, seed):
        examples = super().examples(batch_size, seed)
        rng = np.random.default_rng(seed + 1)
        pixels, encoded = self.example_images(batch_size, rng)
        model = self.model
        ids = self.example_ids(
            batch_size, rng, model.sequence_length, model.vocabulary_size
        )
        examples["logits"] = {"image": pixels, "token_ids": ids}
        if self.tokenizer is not None:
            examples["caption"] = {"image_bytes": encoded}
        return examples

    def reference(self, name, inputs):
        if name == "logits":
            return {"logits": ops.convert_to_numpy(self.model(inputs))}
        if name == "caption":
            pixels = self.pixels_of(inputs["image_bytes"])
            ids = super().reference("generate", {"image": pixels})
            captions = self.preprocessor.detokenize(ids["token_ids"])
            return {
                "captions": np.array([c.encode() for c in captions], object)
            }
        return super().reference(name, inputs)
