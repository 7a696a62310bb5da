"""The main job end to end, behind `make demo` and `mmkeras demo`.

1. Load pretrained models from the zoo (offline, checksum-verified).
2. Use them: ImageNet classes of photos (EfficientNet-Lite0), captions of
   new shapes scenes (transformer captioner), emoji names retrieved for
   drawings of a style the model never saw and for real photos
   (EfficientNet-Lite0 + MiniLM dual encoder, through a
   `RetrievalIndex`), image + text classification (gated fusion) and
   answers to easy-VQA questions (co-attention VQA), and a chat about
   drawings and photos (SmolLM2 seeing through EfficientNet-Lite0).
3. Fine-tune the fusion classifier with `model.fit` on new data.
4. Export it to SavedModel and ONNX, each verified in a fresh process.
5. Serve the SavedModel with `serve_saved_model.py` (plain TensorFlow and
   tensorflow-text, no mmkeras).
6. Print a summary table.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from rich.console import Console
from rich.table import Table

import mmkeras
from mmkeras.data import caption_grammar
from mmkeras.data.shapes import COLORS
from mmkeras.data.vision_language import IMAGE_PLACEHOLDER
from mmkeras.evaluation import captioning
from mmkeras.evaluation import vision_language
from mmkeras.export import verify
from mmkeras.models.dual_encoder.retrieval_index import RetrievalIndex

# ImageNet indices of the golden photos in the EfficientNet entry.
CAPTION_ENTRY = "caption_transformer_small.shapes"
DUAL_ENCODER_ENTRY = "dual_encoder_lite0_minilm.emoji"
VQA_ENTRY = "vqa_coattention.easy_vqa"
VISION_LANGUAGE_ENTRY = "vision_language_smollm2_prefix.emoji"
# Held-out examples the chat step answers per source.
CHAT_EXAMPLES = 8
# scikit-image's photos (in its wheel) and their right emoji captions
# (`mmkeras.data.emoji_caption`): a photo's rank is its best right one's.
PHOTO_NAMES = {
    "chelsea": ("cat face: cat", "cat: cat2"),
    "coffee": ("hot beverage: coffee",),
    "astronaut": ("astronaut: astronaut", "woman astronaut: female-astronaut"),
    "rocket": ("rocket: rocket",),
}


class _Steps:
    """Runs the steps, timing and printing each, for the summary table."""

    def __init__(self, console):
        self.console, self.rows = console, []

    def run(self, title, step, *args):
        self.console.rule(title)
        start = time.perf_counter()
        result = step(self.console, *args)
        seconds = time.perf_counter() - start
        self.rows.append((title, result["summary"], seconds))
        return result


def load_zoo(console):
    names = mmkeras.zoo.list_models()
    console.print(f"{len(names)} entries: {', '.join(names)}")
    models = {}
    wanted = [
        "efficientnet_lite0.imagenet",
        CAPTION_ENTRY,
        DUAL_ENCODER_ENTRY,
        "fusion_gated.color_match",
        VQA_ENTRY,
        VISION_LANGUAGE_ENTRY,
    ]
    for name in wanted:
        models[name] = mmkeras.zoo.load(name)
        console.print(f"loaded {name} ({type(models[name]).__name__})")
    return {"models": models, "summary": f"{len(models)} models loaded"}


def classify_photos(console, encoder):
    golden = mmkeras.zoo.download("efficientnet_lite0.imagenet")["golden.npz"]
    with np.load(golden) as data:
        photos = data["input/x"]
    logits = np.asarray(encoder(photos.astype("float32"))["logits"])
    # The entry ships the ImageNet names (KerasHub spelling: "Egyptian_cat").
    found = [
        encoder.class_names[int(i)].replace("_", " ") for i in logits.argmax(-1)
    ]
    for name, label in zip(("chelsea", "coffee"), found, strict=True):
        console.print(f"scikit-image's {name} photo: {label}")
    return {"summary": ", ".join(found)}


def retrieve_emoji(console, model):
    """Drawings of the held-out style (Twemoji; the entry trained on the
    Google and Fluent drawings), one in 30, rank the caption of every
    emoji: is the right one in the top 5?"""
    # The entry ships the index of every caption: nothing to embed here.
    index = RetrievalIndex.from_preset(DUAL_ENCODER_ENTRY, model)
    drawings = mmkeras.data.emoji(split="validation", batch_size=64)
    drawings = drawings.unbatch().shard(30, 0).batch(64)
    examples = next(iter(drawings))
    captions = [c.decode() for c in examples["caption"].numpy()]
    keys, _ = index.search(examples["image"].numpy(), k=5)
    hits = [c in row for c, row in zip(captions, keys.tolist(), strict=True)]
    for caption, row in list(zip(captions, keys.tolist(), strict=True))[:3]:
        console.print(f"Twemoji {caption!r} -> {'; '.join(row[:3])}")
    return {
        "index": index,
        "summary": f"right name in the top 5 for {sum(hits)}/{len(hits)} "
        f"held-out drawings (chance {5 / len(index):.1%})",
    }


def rank_photos(console, index):
    """Photos none of the zoo's models saw in training rank the caption
    of every emoji (`index`): the right caption's rank for each, and the
    top 3."""
    import skimage.data

    photos = [getattr(skimage.data, photo)() for photo in PHOTO_NAMES]
    keys, _ = index.search(photos, k=len(index))
    ranks = []
    for (photo, right), row in zip(PHOTO_NAMES.items(), keys, strict=True):
        row = row.tolist()
        ranks.append(1 + min(row.index(name) for name in right))
        console.print(
            f"scikit-image's {photo}: {'; '.join(row[:3])} ({right[0]!r} "
            f"ranked {ranks[-1]} of {len(index)})"
        )
    in_top = sum(rank <= 5 for rank in ranks)
    return {
        "summary": f"right emoji name in the top 5 for {in_top}/{len(ranks)}"
        f" photos (ranks {', '.join(map(str, ranks))} of {len(index)})"
    }


def caption_scenes(console, model):
    """Beam-search captions of new scenes (4 beams: more of them true than
    greedy ones, see the entry's card), checked against the scenes'
    objects."""
    evaluation = caption_grammar.evaluation_set(32)
    scores = captioning.score(
        model, evaluation, mmkeras.samplers.BeamSampler(4)
    )
    for text, true in scores["examples"][:3]:
        console.print(f"{text!r} ({'true' if true else 'false'} of its scene)")
    summary = f"{scores['truthfulness']:.0%} of 32 captions true (4 beams)"
    return {"summary": summary}


def classify_pairs(console, model):
    data = mmkeras.data.color_match_arrays(64, seed=11)
    inputs, labels = model.preprocessor(data)
    predicted = np.asarray(model(inputs)).argmax(-1)
    for i in range(3):
        colour = COLORS[data["image_color"][i]]
        console.print(
            f"{colour} shape + {str(data['text'][i])!r} -> "
            f"{model.class_names[predicted[i]]}"
        )
    accuracy = float(np.mean(predicted == np.asarray(labels)))
    return {"summary": f"accuracy {accuracy:.3f} on 64 new pairs"}


def answer_questions(console, model):
    """easy-VQA test questions (real data from the easy-vqa package)."""
    batch = next(iter(mmkeras.data.easy_vqa("test", batch_size=64)))
    inputs, _ = model.preprocessor(batch)
    logits = model(inputs)
    predicted = [model.answers[i] for i in np.argmax(logits, -1)]
    truth = [a.decode() for a in batch["answer"].numpy()]
    for question, answer, true in list(
        zip(batch["question"].numpy(), predicted, truth, strict=True)
    )[:3]:
        console.print(f"{question.decode()!r} -> {answer} (truth: {true})")
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    return {"summary": f"accuracy {accuracy:.3f} on 64 test questions"}


def fine_tune(console, model, examples, epochs):
    train, validation = mmkeras.data.DATASETS.call(
        {"name": "color_match"},
        num_train=examples,
        num_validation=512,
        seed=20,
    )
    before = model.evaluate(validation, verbose=0, return_dict=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    # The dataset shuffles itself; Keras cannot shuffle a tf.data one.
    model.fit(train, epochs=epochs, verbose=1, shuffle=False)
    after = model.evaluate(validation, verbose=0, return_dict=True)
    summary = (
        f"validation accuracy {before['accuracy']:.3f} -> "
        f"{after['accuracy']:.3f}"
    )
    console.print(summary)
    return {"summary": summary}


def chat_about_pictures(console, model):
    """The vision-language entry answers "What is in this picture?" for
    held-out Twemoji drawings and scikit-image's photos, and easy-VQA
    test questions, scored by its evaluator's exact rules."""
    manifest = mmkeras.zoo.info(VISION_LANGUAGE_ENTRY)
    results = vision_language.score(
        model,
        manifest["evaluation"],
        max_examples=CHAT_EXAMPLES,
        text_characters=200,
        language_answers=False,
    )
    for source, shown in results["answers"].items():
        for prompt, answer, right in shown[:3]:
            question = prompt.replace(IMAGE_PLACEHOLDER, "").strip()
            mark = "right" if right else "wrong"
            console.print(f"{source}: {question!r} -> {answer!r} ({mark})")
    for photo, answer in results["photos"].items():
        console.print(f"scikit-image's {photo}: {answer!r}")
    named = round(results["held_out_caption_accuracy"] * CHAT_EXAMPLES)
    answered = round(results["easy_vqa_accuracy"] * CHAT_EXAMPLES)
    photos = "; ".join(f"{k}: {v!r}" for k, v in results["photos"].items())
    return {
        "summary": f"named {named}/{CHAT_EXAMPLES} held-out drawings, "
        f"answered {answered}/{CHAT_EXAMPLES} easy-VQA questions; {photos}"
    }


def export_model(console, model, out_dir):
    written = mmkeras.export.export(model, out_dir, format="all")
    worst = 0.0
    for kind, path in written.items():
        with open(os.path.join(path, "verify.json")) as file:
            report = json.load(file)
        diff = max(e.get("max_abs_diff", 0.0) for e in report.values())
        worst = max(worst, diff)
        console.print(f"{kind}: {path} (max |diff| {diff:.1e})")
    return {
        "written": written,
        "summary": f"{len(written)} artifacts, max |diff| {worst:.1e} "
        f"(limit {verify.TOLERANCE:g})",
    }


def serve(console, saved_model, scratch):
    data = mmkeras.data.color_match_arrays(2, seed=5)
    image = os.path.join(scratch, "shape.png")
    with open(image, "wb") as file:
        file.write(tf.io.encode_png(data["image"][0]).numpy())
    text = str(data["text"][0])
    script = os.path.join(verify.CONSUMERS, "serve_saved_model.py")
    command = [
        sys.executable,
        script,
        saved_model,
        "--signature=classify",
        f"--input=image_bytes=@{image}",
        f"--input=text={text}",
    ]
    console.print(" ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    outputs = json.loads(result.stdout.splitlines()[-1])
    colour = COLORS[data["image_color"][0]]
    console.print(f"{colour} shape + {text!r} -> {outputs['label'][0]}")
    return {"summary": f"served: {outputs['label'][0]} ({text!r})"}


def run(out_dir=None, fine_tune_examples=2048, epochs=1, console=None):
    """Runs every step; returns the summary rows `(step, result, s)`."""
    console = console or Console()
    steps = _Steps(console)
    with tempfile.TemporaryDirectory() as scratch:
        out_dir = out_dir or os.path.join(scratch, "export")
        models = steps.run("Load the zoo", load_zoo)["models"]
        steps.run(
            "Classify photos (EfficientNet-Lite0)",
            classify_photos,
            models["efficientnet_lite0.imagenet"],
        )
        steps.run(
            "Caption scenes (transformer captioner)",
            caption_scenes,
            models[CAPTION_ENTRY],
        )
        index = steps.run(
            "Retrieve emoji names (EfficientNet + MiniLM dual encoder)",
            retrieve_emoji,
            models[DUAL_ENCODER_ENTRY],
        )["index"]
        steps.run(
            "Rank emoji names for photos (dual encoder)", rank_photos, index
        )
        steps.run(
            "Answer questions (co-attention VQA)",
            answer_questions,
            models[VQA_ENTRY],
        )
        steps.run(
            "Chat about pictures (SmolLM2 + EfficientNet-Lite0)",
            chat_about_pictures,
            models[VISION_LANGUAGE_ENTRY],
        )
        fusion = models["fusion_gated.color_match"]
        steps.run(
            "Classify image + text (gated fusion)", classify_pairs, fusion
        )
        steps.run(
            "Fine-tune with model.fit",
            fine_tune,
            fusion,
            fine_tune_examples,
            epochs,
        )
        written = steps.run("Export and verify", export_model, fusion, out_dir)[
            "written"
        ]
        steps.run(
            "Serve without mmkeras", serve, written["saved_model"], scratch
        )
    table = Table(title="mmkeras demo")
    for column in ("step", "result", "seconds"):
        table.add_column(column)
    for title, summary, seconds in steps.rows:
        table.add_row(title, summary, f"{seconds:.1f}")
    console.print(table)
    return steps.rows
