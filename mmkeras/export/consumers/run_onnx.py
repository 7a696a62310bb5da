"""Runs exported mmkeras ONNX graphs with onnxruntime and numpy alone (no
TensorFlow, no mmkeras).

The directory holds one `.onnx` file per graph and `onnx_config.json`:
how to convert images (`image_size`, `image_scale`, `image_offset`) and,
for a generating model, its decoding (special token ids, `max_length`,
the cache entries and the sampler). A generating model exports an
`encoder` graph (generation inputs to every cache entry, the
`initial_token_ids` and the `start_index`) and a `decoder_step` graph
(one token, its index and `past_<entry>` to the next token's logits and
`present_<entry>`); `generate` runs them in a loop, greedy or beam
search as exported, feeding each `present_*` back as `past_*`. Tensor
inputs are converted pixels (float32 `(batch, height, width, 3)`) and
token ids.

    # caption images (resized with Pillow, so pixels differ slightly from
    # the SavedModel's in-graph decoding)
    python run_onnx.py MODEL/onnx/1 --image cat.jpg --image dog.png
    # graphs (and "generate", a generator's decoding loop) on .npz inputs
    # named "graph/input", to .npz outputs
    python run_onnx.py MODEL/onnx/1 --inputs in.npz --outputs out.npz
"""

import argparse
import json
import os
import sys

import numpy as np
import onnxruntime

# Score of impossible beam continuations, as mmkeras' BeamSampler.
_IMPOSSIBLE = np.float32(-1e9)


class Graphs:
    """The ONNX sessions of one export directory."""

    def __init__(self, directory):
        with open(os.path.join(directory, "onnx_config.json")) as file:
            self.config = json.load(file)
        self.sessions = {
            name: onnxruntime.InferenceSession(
                os.path.join(directory, f"{name}.onnx"),
                providers=["CPUExecutionProvider"],
            )
            for name in self.config["graphs"]
        }
        vocabulary = self.config.get("vocabulary")
        self.vocabulary = None
        if vocabulary:
            with open(os.path.join(directory, vocabulary)) as file:
                self.vocabulary = file.read().splitlines()

    @property
    def generates(self):
        return "decoder_step" in self.sessions

    def run(self, name, inputs):
        if name == "generate":
            return {"token_ids": self.generate(inputs)}
        session = self.sessions[name]
        names = [output.name for output in session.get_outputs()]
        return dict(zip(names, session.run(names, inputs), strict=True))

    def generate(self, inputs):
        """Token ids `(batch, max_length)` for the generation inputs: the
        encoder once, then one decoder step per token."""
        encoded = self.run("encoder", inputs)
        cache = {name: encoded[name] for name in self.config["cache"]}
        token_ids = encoded["initial_token_ids"].astype("int32")
        start = int(encoded["start_index"])
        sampler = self.config["sampler"]
        if sampler["class_name"] == "GreedySampler":
            token_ids = self._greedy(token_ids, cache, start)
        elif sampler["class_name"] == "BeamSampler":
            token_ids = self._beam(token_ids, cache, start, **sampler["config"])
        else:
            sys.exit(
                "run_onnx.py decodes greedily or with beam search. "
                f"Received: sampler {sampler['class_name']}"
            )
        return self._cut_at_end(token_ids)

    def _cut_at_end(self, token_ids):
        """Pad after each row's first end token, as mmkeras' generate."""
        is_end = token_ids == self.config["end_token_id"]
        ended_before = np.cumsum(is_end, axis=1) - is_end > 0
        pad = self.config["pad_token_id"]
        return np.where(ended_before, pad, token_ids).astype("int32")

    def _step(self, token_ids, cache, index):
        """Logits of the token at `index` and the updated cache."""
        feed = {f"past_{name}": value for name, value in cache.items()}
        feed["token_ids"] = token_ids[:, index - 1 : index]
        feed["index"] = np.array(index - 1, "int32")
        outputs = self.run("decoder_step", feed)
        cache = {name: outputs[f"present_{name}"] for name in cache}
        return outputs["logits"], cache

    def _greedy(self, token_ids, cache, start):
        end, pad = self.config["end_token_id"], self.config["pad_token_id"]
        done = np.zeros(len(token_ids), bool)
        for index in range(start, token_ids.shape[1]):
            if done.all():
                break
            logits, cache = self._step(token_ids, cache, index)
            tokens = logits.argmax(-1).astype("int32")
            token_ids[:, index] = np.where(done, pad, tokens)
            done |= token_ids[:, index] == end
        return token_ids

    def _beam(
        self,
        token_ids,
        cache,
        start,
        num_beams=5,
        length_penalty=0.0,
        return_all_beams=False,
    ):
        """mmkeras' `BeamSampler` in numpy: the same ranking and ties."""
        end, pad = self.config["end_token_id"], self.config["pad_token_id"]
        batch, length = token_ids.shape
        token_ids = np.repeat(token_ids, num_beams, axis=0)
        cache = {k: np.repeat(v, num_beams, axis=0) for k, v in cache.items()}
        first = [0.0] + [_IMPOSSIBLE] * (num_beams - 1)
        scores = np.tile(np.array(first, "float32"), batch)
        done = np.zeros(batch * num_beams, bool)
        lengths = np.zeros(batch * num_beams, "int32")
        for index in range(start, length):
            if done.all():
                break
            logits, cache = self._step(token_ids, cache, index)
            log_probs = _log_softmax(logits.astype("float32"))
            vocab = log_probs.shape[-1]
            pad_only = np.where(np.arange(vocab) == pad, 0.0, _IMPOSSIBLE)
            log_probs = np.where(done[:, None], pad_only[None], log_probs)
            candidates = (scores[:, None] + log_probs).astype("float32")
            candidates = candidates.reshape(batch, num_beams * vocab)
            flat = _top_k(candidates, num_beams)
            scores = np.take_along_axis(candidates, flat, axis=1).reshape(-1)
            source = np.arange(batch)[:, None] * num_beams + flat // vocab
            source = source.reshape(-1)
            token_ids, done, lengths = (
                token_ids[source],
                done[source],
                lengths[source],
            )
            cache = {k: v[source] for k, v in cache.items()}
            tokens = (flat % vocab).reshape(-1).astype("int32")
            token_ids[:, index] = tokens
            lengths = lengths + (~done).astype("int32")
            done = done | (tokens == end)
        lengths = np.maximum(lengths, 1).astype("float32")
        ranked = scores / lengths ** np.float32(length_penalty)
        order = _top_k(ranked.reshape(batch, num_beams), num_beams)
        token_ids = token_ids.reshape(batch, num_beams, length)
        best = np.take_along_axis(token_ids, order[:, :, None], axis=1)
        return best[:, 0]

    def detokenize(self, ids):
        """WordPiece ids to text, special tokens dropped."""
        special = set(self.config["special_token_ids"])
        texts = []
        for row in ids:
            words = [self.vocabulary[i] for i in row if int(i) not in special]
            text = " ".join(words).replace(" ##", "")
            texts.append(text)
        return texts

    def load_images(self, paths):
        """Image files to the model's pixels, as its ImageConverter makes
        them: resized bilinearly, in [0, 1], times `image_scale` plus
        `image_offset`."""
        from PIL import Image

        height, width = self.config["image_size"]
        images = []
        for path in paths:
            with Image.open(path) as image:
                image = image.convert("RGB").resize(
                    (width, height), Image.BILINEAR
                )
                images.append(np.asarray(image, "float32") / 255.0)
        scale = np.asarray(self.config.get("image_scale", 1.0), "float32")
        offset = np.asarray(self.config.get("image_offset", 0.0), "float32")
        return (np.stack(images) * scale + offset).astype("float32")


def _log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _top_k(values, k):
    """Indices of the `k` largest per row, ties to the lower index (as
    `tf.math.top_k`)."""
    return np.argsort(-values, axis=-1, kind="stable")[:, :k]


def _run_npz(graphs, inputs_path, outputs_path):
    # Keys are "graph/input" or "graph/input/call": one call per
    # graph and call name, outputs keyed alike.
    grouped = {}
    with np.load(inputs_path) as data:
        for key in data.files:
            graph, name, *call = key.split("/")
            group = grouped.setdefault((graph, *call), {})
            group[name] = data[key]
    outputs = {}
    for (graph, *call), inputs in grouped.items():
        for name, value in graphs.run(graph, inputs).items():
            outputs["/".join([graph, name, *call])] = value
    np.savez(outputs_path, **outputs)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("onnx_dir")
    parser.add_argument("--image", action="append", default=[])
    parser.add_argument("--inputs", help=".npz of 'graph/input' arrays")
    parser.add_argument("--outputs", help=".npz to write outputs to")
    args = parser.parse_args(argv)
    if bool(args.inputs) != bool(args.outputs):
        parser.error("--inputs and --outputs go together")
    graphs = Graphs(args.onnx_dir)
    if args.inputs:
        _run_npz(graphs, args.inputs, args.outputs)
        return
    config = graphs.config
    if (
        not args.image
        or not graphs.generates
        or config.get("generation_inputs") != ["image"]
        or graphs.vocabulary is None
    ):
        sys.exit(
            "--image captions images with a captioner's graphs (exported "
            "with a tokenizer); use --inputs/--outputs for other graphs"
        )
    images = graphs.load_images(args.image)
    ids = graphs.generate({"image": images})
    for path, text in zip(args.image, graphs.detokenize(ids), strict=True):
        print(json.dumps({"image": path, "caption": text}))


if __name__ == "__main__":
    main()
