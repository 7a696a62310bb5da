"""Runs exported mmkeras ONNX graphs with onnxruntime and numpy alone (no
TensorFlow, no mmkeras).

The directory holds one `.onnx` file per graph and `onnx_config.json`:
how to convert images (`image_size`, `image_scale`, `image_offset`), how
to tokenize text (`tokenizer`, with `vocabulary.txt`), the class names
(`labels.txt`) and, for a generating model, its decoding (special token
ids, `max_length`, the cache entries and the sampler). A generating model
exports an `encoder` graph (generation inputs to every cache entry, the
`initial_token_ids` and the `start_index`) and a `decoder_step` graph
(one token, its index and `past_<entry>` to the next token's logits and
`present_<entry>`); `generate` runs them in a loop, greedy or beam
search as exported, feeding each `present_*` back as `past_*`. Tensor
inputs are converted pixels (float32 `(batch, height, width, 3)`) and
token ids.

A causal language model's folder also holds its byte-level BPE
(`vocabulary.jsonl`, `merges.txt`): `--prompt` tokenizes each prompt in
Python (`BytePair`, the ids of mmkeras' `BytePairTokenizer`), left-pads
it, decodes and detokenizes the answer.

With `--image` (or `--prompt`), it answers as the SavedModel's default
signature does, one JSON line per image or prompt (images are resized
with Pillow, so pixels differ slightly from the SavedModel's in-graph
decoding):

    python run_onnx.py MODEL/onnx/1 --image cat.jpg --image dog.png
    python run_onnx.py VQA/onnx/1 --image scene.png --question "what shape?"
    python run_onnx.py FUSION/onnx/1 --image a.png --text "a red circle"
    python run_onnx.py DUAL/onnx/1 --image a.png --text red --text blue
    python run_onnx.py LM/onnx/1 --prompt "The capital of France is"
    python run_onnx.py VLM/onnx/1 --image cat.png --question "What is this?"
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
from onnx_tokenizers import BytePair
from onnx_tokenizers import WordPiece

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
        self.vocabulary = _lines(directory, self.config.get("vocabulary"))
        self.labels = _lines(directory, self.config.get("labels"))
        tokenizer = self.config.get("tokenizer")
        self.tokenizer = None
        if tokenizer and tokenizer.get("type") == "byte_pair":
            vocabulary = _json_lines(directory, tokenizer["vocabulary"])
            merges = _lines(directory, tokenizer["merges"])
            self.tokenizer = BytePair(
                **{**tokenizer, "vocabulary": vocabulary, "merges": merges}
            )
        elif tokenizer:
            vocabulary = _lines(directory, tokenizer["vocabulary"])
            self.tokenizer = WordPiece(
                **{**tokenizer, "vocabulary": vocabulary}
            )

    @property
    def generates(self):
        return "decoder_step" in self.sessions

    def run(self, name, inputs):
        if name == "generate" and "prompts" in inputs:
            prompts = [p.decode() for p in inputs["prompts"]]
            answers = [a.encode() for a in self.answer(prompts)]
            return {"answers": np.array(answers, object)}
        if name == "generate":
            return {"token_ids": self.generate(inputs)}
        if name == "generate_ids":
            token_ids, start = self.decode(inputs)
            return {"token_ids": token_ids[:, start:]}
        session = self.sessions[name]
        names = [output.name for output in session.get_outputs()]
        return dict(zip(names, session.run(names, inputs), strict=True))

    def generate(self, inputs):
        """Token ids `(batch, max_length)` for the generation inputs: the
        encoder once, then one decoder step per token."""
        return self.decode(inputs)[0]

    def answer(self, prompts, images=None):
        """A causal LM's answer to each prompt string, as the SavedModel's
        `generate` signature: tokenized, left-padded, decoded and
        detokenized without the end and pad tokens; with `images` (a
        vision-language model's pixels), about each image."""
        inputs = self.tokenizer.prompts(prompts)
        if images is not None:
            inputs["image"] = images
        token_ids, start = self.decode(inputs)
        drop = {self.config["end_token_id"], self.config["pad_token_id"]}
        return [
            self.tokenizer.detokenize([i for i in row if int(i) not in drop])
            for row in token_ids[:, start:]
        ]

    def chat(self, images, messages):
        """A vision-language model's answer to each message about its
        image (pixels), as the SavedModel's `chat` signature: the message
        written after the image placeholder in the chat template."""
        chat = self.config["chat"]
        for row, message in enumerate(messages):
            placeholder = self.tokenizer.placeholder
            if not message.strip() or placeholder in message:
                raise ValueError(
                    f"message {row} is empty or holds {placeholder}: send "
                    "the question about the image alone"
                )
        prompts = [chat["before"] + m + chat["after"] for m in messages]
        return self.answer(prompts, images)

    def decode(self, inputs):
        """`(token_ids (batch, max_length), start_index)`: the encoder
        once, then one decoder step per token."""
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
        return self._cut_at_end(token_ids, start), start

    def _cut_at_end(self, token_ids, start):
        """Pad after each row's first generated end token, as mmkeras'
        generate (a prompt's own end tokens, of earlier chat turns,
        stay)."""
        generated = np.arange(token_ids.shape[1]) >= start
        is_end = (token_ids == self.config["end_token_id"]) & generated
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

    def classify(self, images, texts):
        """The class name and scores of each image with its text, as the
        SavedModel's `answer` / `classify` signature gives them."""
        request = self.config["request"]
        logits = self.run(
            request["graph"],
            {"image": images, request["text_input"]: self.tokenizer(texts)},
        )["logits"]
        probabilities = _softmax(logits.astype("float32"))
        outputs = {
            request["label_output"]: [
                self.labels[i] for i in probabilities.argmax(-1)
            ]
        }
        for name, how in request["scores"].items():
            outputs[name] = (
                probabilities.max(-1) if how == "max" else probabilities
            )
        return outputs

    def score(self, images, texts):
        """Cosine similarities `(images, texts)`, as the SavedModel's
        `score` signature (the embeddings are L2-normalised)."""
        image = self.run("image_embeddings", {"image": images})
        text = self.run("text_embeddings", {"token_ids": self.tokenizer(texts)})
        return {"scores": image["embeddings"] @ text["embeddings"].T}

    def load_images(self, paths):
        """Image files to the model's pixels, as its ImageConverter makes
        them: resized bilinearly, in [0, 1], times `image_scale` plus
        `image_offset`. A file Pillow cannot read is a ValueError naming
        it."""
        from PIL import Image

        height, width = self.config["image_size"]
        images = []
        for path in paths:
            try:
                with Image.open(path) as image:
                    image = image.convert("RGB").resize(
                        (width, height), Image.BILINEAR
                    )
            except OSError as error:  # Pillow's UnidentifiedImageError too
                raise ValueError(
                    f"{path} is not an image Pillow can read ({error})"
                ) from None
            images.append(np.asarray(image, "float32") / 255.0)
        scale = np.asarray(self.config.get("image_scale", 1.0), "float32")
        offset = np.asarray(self.config.get("image_offset", 0.0), "float32")
        return (np.stack(images) * scale + offset).astype("float32")


def _json_lines(directory, name):
    """One JSON value per line (split at "\\n" only: a token may hold
    any other line break)."""
    with open(os.path.join(directory, name), encoding="utf-8") as file:
        return [json.loads(line) for line in file.read().split("\n") if line]


def _lines(directory, name):
    """The lines of the file `name` of `directory`; None without a name."""
    if not name:
        return None
    with open(os.path.join(directory, name), encoding="utf-8") as file:
        return file.read().splitlines()


def _softmax(logits):
    return np.exp(_log_softmax(logits))


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
    # Prompts are object arrays of bytes.
    with np.load(inputs_path, allow_pickle=True) as data:
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
    parser.add_argument(
        "onnx_dirs",
        nargs="+",
        metavar="onnx_dir",
        help="an ONNX export directory (several with --inputs)",
    )
    parser.add_argument("--image", action="append", default=[])
    parser.add_argument("--question", help="the question, for a VQA model")
    parser.add_argument(
        "--text",
        action="append",
        default=[],
        help="one per image for a fusion classifier; candidates to score "
        "for a dual encoder",
    )
    parser.add_argument(
        "--prompt",
        action="append",
        default=[],
        help="a prompt to continue, for a causal language model",
    )
    parser.add_argument("--inputs", help=".npz of 'graph/input' arrays")
    parser.add_argument(
        "--outputs", nargs="+", help=".npz to write outputs to, one a model"
    )
    args = parser.parse_args(argv)
    if bool(args.inputs) != bool(args.outputs):
        parser.error("--inputs and --outputs go together")
    if len(args.onnx_dirs) != len(args.outputs or [None]):
        parser.error("give one --outputs file per onnx_dir")
    if args.inputs:
        for directory, outputs in zip(
            args.onnx_dirs, args.outputs, strict=True
        ):
            _run_npz(Graphs(directory), args.inputs, outputs)
        return
    graphs = Graphs(args.onnx_dirs[0])
    task = graphs.config.get("request", {}).get("task")
    if task == "generate":
        _generate(graphs, args, parser)
        return
    if args.prompt:
        parser.error("--prompt is for a causal language model's graphs")
    if not args.image or task is None:
        parser.error(
            "--image answers as the SavedModel's default signature, for "
            "graphs exported with a tokenizer (and class names); use "
            "--inputs/--outputs for other graphs"
        )
    try:
        outputs = _answer(graphs, task, args, parser)
    except ValueError as error:
        sys.exit(f"error: {error}")
    for i, path in enumerate(args.image):
        result = {"image": path}
        for name, values in outputs.items():
            value = values[i]
            result[name] = value.tolist() if hasattr(value, "tolist") else value
        print(json.dumps(result))


def _generate(graphs, args, parser):
    """A causal LM's answers, one JSON line per `--prompt`."""
    if args.image or args.question or args.text or not args.prompt:
        parser.error(
            "a language model continues text: give --prompt (one or more), "
            "and no --image, --question or --text"
        )
    try:
        answers = graphs.answer(args.prompt)
    except ValueError as error:
        sys.exit(f"error: {error}")
    for prompt, answer in zip(args.prompt, answers, strict=True):
        print(json.dumps({"prompt": prompt, "answers": answer}))


def _answer(graphs, task, args, parser):
    """The default signature's outputs for the command line's values."""
    flag = graphs.config["request"].get("text_flag", "text")
    given = {"question": args.question, "text": args.text}
    for name, value in given.items():
        if value and name != flag and not (task == "score" and name == "text"):
            parser.error(f"this model takes no --{name}")
    images = graphs.load_images(args.image)
    if task == "caption":
        return {
            "captions": graphs.detokenize(graphs.generate({"image": images}))
        }
    if task == "score":
        if not args.text:
            parser.error("give the candidate texts with --text")
        return graphs.score(images, args.text)
    texts = [args.question] * len(images) if flag == "question" else args.text
    if not args.question and flag == "question":
        parser.error("this model needs --question")
    if task == "chat":
        return {"answers": graphs.chat(images, texts)}
    if len(texts) != len(images):
        parser.error("give one --text per --image")
    return graphs.classify(images, texts)


if __name__ == "__main__":
    main()
