"""Runs exported mmkeras ONNX graphs with onnxruntime and numpy alone (no
TensorFlow, no mmkeras).

The directory holds one `.onnx` file per graph and `onnx_config.json`
(the graphs' inputs, and for a captioner the ids and cache shape of its
greedy decoding loop). Images are float32 RGB in [0, 1], `(batch,
height, width, 3)`, of the size in the config; text is token ids.

    # caption images (resized with Pillow, so pixels differ slightly from
    # the SavedModel's in-graph decoding)
    python run_onnx.py MODEL/onnx/1 --image cat.jpg --image dog.png
    # graphs (and "generate", the captioner's greedy loop) on .npz inputs
    # named "graph/input", to .npz outputs
    python run_onnx.py MODEL/onnx/1 --inputs in.npz --outputs out.npz
"""

import argparse
import json
import os
import sys

import numpy as np
import onnxruntime


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

    def run(self, name, inputs):
        if name == "generate":
            return {"token_ids": self.generate(inputs["image"])}
        session = self.sessions[name]
        names = [output.name for output in session.get_outputs()]
        return dict(zip(names, session.run(names, inputs), strict=True))

    def generate(self, images):
        """Greedy captioning: the encoder once, then one decoder step per
        token with the self-attention keys and values fed back."""
        config = self.config["captioner"]
        cross_cache = self.run("encoder", {"image": images})["cross_cache"]
        batch = images.shape[0]
        length = config["max_length"]
        cache_shape = list(config["self_cache_shape"])
        cache_shape[1] = batch
        self_cache = np.zeros(cache_shape, "float32")
        ids = np.full((batch, length), config["pad_token_id"], "int32")
        ids[:, 0] = config["start_token_id"]
        ended = np.zeros(batch, bool)
        for index in range(length - 1):
            outputs = self.run(
                "decoder_step",
                {
                    "token_ids": ids[:, index : index + 1],
                    "index": np.array(index, "int32"),
                    "past_self_cache": self_cache,
                    "cross_cache": cross_cache,
                },
            )
            self_cache = outputs["present_self_cache"]
            next_ids = outputs["logits"].argmax(-1).astype("int32")
            ids[:, index + 1] = np.where(
                ended, config["pad_token_id"], next_ids
            )
            ended |= next_ids == config["end_token_id"]
            if ended.all():
                break
        return ids

    def detokenize(self, ids):
        """WordPiece ids to text, special tokens dropped."""
        special = set(self.config["captioner"]["special_token_ids"])
        texts = []
        for row in ids:
            words = [self.vocabulary[i] for i in row if int(i) not in special]
            text = " ".join(words).replace(" ##", "")
            texts.append(text)
        return texts


def _load_image(path, size):
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB").resize(size[::-1], Image.BILINEAR)
        return np.asarray(image, "float32") / 255.0


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
    if "captioner" not in graphs.config or not args.image:
        sys.exit(
            "--image captions images with a captioner's graphs; use "
            "--inputs/--outputs for other graphs"
        )
    size = graphs.config["image_size"]
    images = np.stack([_load_image(path, size) for path in args.image])
    ids = graphs.generate(images)
    for path, text in zip(args.image, graphs.detokenize(ids), strict=True):
        print(json.dumps({"image": path, "caption": text}))


if __name__ == "__main__":
    main()
