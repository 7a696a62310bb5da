"""Emoji retrieval by dual encoders, measured in one run.

Prints one table: recall@1/5/10 both ways, relevance by concept
(`mmkeras.evaluation.retrieval.concept_recall`), on

- the held-out style: the 1,911 Twitter drawings against the 1,911
  canonical captions, trained on the Google and Fluent ones;
- held-out concepts: every drawing of the 20% held-out concepts (split
  `emoji(split_by="concept")`, seed 0) against their captions, trained
  on the other concepts in every style;

for (a) the zoo entry `dual_encoder_lite0_minilm.emoji` (its recipe
retrained on the concept split for the second column), (b) the same
model with random towers, and (c) the shapes entry
`dual_encoder_lite0_minilm.shapes` (as it is, it never saw an emoji).

The towers of (a) and (b) are locked, so their projections are trained
here on the towers' cached pooled outputs (`mmkeras train
dual_encoder_emoji` runs the towers on every step; the optimisation is
the same: AdamW, InfoNCE, the config's epochs and batch size).

Then scikit-image's photos (those its wheel ships) against all 1,911
captions: the rank of the right emoji and the top-5 names.

    python benchmarks/emoji_retrieval.py [--epochs 12]
"""

import argparse
import time

import keras
import numpy as np
import skimage.data
import tensorflow as tf
from keras import ops

import mmkeras
from mmkeras import losses
from mmkeras import training
from mmkeras.evaluation.retrieval import concept_recall
from mmkeras.models.builders import MODEL_BUILDERS

ENTRY = "dual_encoder_lite0_minilm.emoji"
SHAPES = "dual_encoder_lite0_minilm.shapes"
STYLES = ("google", "fluent", "twitter")
# scikit-image photos that show an emoji's concept, with the names of the
# emoji that count as right.
PHOTOS = {
    "chelsea": ("cat face", "cat"),
    "coffee": ("hot beverage",),
    "astronaut": ("astronaut", "woman astronaut"),
    "rocket": ("rocket",),
    "horse": ("horse", "horse face"),
    "coins": ("coin",),
    "camera": ("camera", "movie camera"),
    "stereo_motorcycle": ("motorcycle",),
    "hubble_deep_field": ("milky way",),
}
KS = (1, 5, 10)


def drawings():
    """Every drawing by style: `{style: (uint8 images, concepts)}`, and
    `{concept: canonical caption}`."""
    out, captions = {}, {}
    for style in STYLES:
        images, concepts = [], []
        data = mmkeras.data.emoji(
            "validation", held_out_style=style, batch_size=256
        )
        for batch in data.as_numpy_iterator():
            images.append(batch["image"])
            concepts.append(batch["concept"])
            pairs = zip(batch["concept"], batch["caption"], strict=True)
            for concept, caption in pairs:
                captions[int(concept)] = caption.decode()
        out[style] = (np.concatenate(images), np.concatenate(concepts))
    return out, captions


def held_out_concepts():
    data = mmkeras.data.emoji("validation", split_by="concept")
    return np.unique(
        np.concatenate([b["concept"] for b in data.as_numpy_iterator()])
    )


def pooled(model, images, captions):
    """The towers' pooled outputs of images and caption strings."""
    pre = model.preprocessor
    image_out, text_out = [], []
    for start in range(0, len(images), 128):
        pixels = pre.convert_images(images[start : start + 128])
        image_out.append(model.image_encoder(pixels)["pooled"])
    for start in range(0, len(captions), 256):
        ids = pre.tokenize(captions[start : start + 256])
        text_out.append(model.text_encoder(ids)["pooled"])
    return (
        np.concatenate([ops.convert_to_numpy(x) for x in image_out]),
        np.concatenate([ops.convert_to_numpy(x) for x in text_out]),
    )


def fit_projections(model, image_features, text_features, epochs, batch):
    """Trains the projections and the temperature on cached tower outputs
    (pairs by row), whole shuffled batches per epoch, as `fit` would."""
    heads = [
        model.image_projection.kernel,
        model.text_projection.kernel,
        model.log_logit_scale,
    ]
    optimizer = model.optimizer
    rng = np.random.default_rng(0)

    @tf.function
    def step(images, texts):
        with tf.GradientTape() as tape:
            loss = ops.mean(
                losses.info_nce(
                    ops.normalize(model.image_projection(images), axis=-1),
                    ops.normalize(model.text_projection(texts), axis=-1),
                    model.logit_scale,
                )
            )
        gradients = tape.gradient(loss, heads)
        optimizer.apply_gradients(zip(gradients, heads, strict=True))
        return loss

    for _ in range(epochs):
        order = rng.permutation(len(image_features))
        for start in range(0, len(order) - batch + 1, batch):
            rows = order[start : start + batch]
            loss = step(image_features[rows], text_features[rows])
    return float(loss)


def embed(model, images, texts):
    def normalized(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    return (
        normalized(ops.convert_to_numpy(model.image_projection(images))),
        normalized(ops.convert_to_numpy(model.text_projection(texts))),
    )


def tower_features(model, data, captions):
    """The towers' pooled outputs: `({style: images}, texts)`, texts in
    concept order."""
    texts = [captions[c] for c in sorted(captions)]
    features = {s: pooled(model, data[s][0], texts) for s in STYLES}
    return {s: f[0] for s, f in features.items()}, features[STYLES[0]][1]


def measure(model, data, features, held, train=None):
    """`{"style": recall, "concept": recall}` from `tower_features`;
    `train=(epochs, batch)` first trains the projections on each split's
    training drawings."""
    image_features, text_features = features
    # Built, so its projections exist.
    model(
        {
            "image": model.preprocessor.convert_images(data["google"][0][:1]),
            "token_ids": model.preprocessor.tokenize(["cat"]),
        }
    )
    results = {}
    for split in ("style", "concept"):
        if split == "style":
            train_rows = [(s, data[s][1] >= 0) for s in STYLES[:2]]
            test = [(s, data[s][1] >= 0) for s in STYLES[2:]]
        else:
            train_rows = [(s, ~np.isin(data[s][1], held)) for s in STYLES]
            test = [(s, np.isin(data[s][1], held)) for s in STYLES]
        if train is not None:
            _reset_heads(model)
            x = np.concatenate([image_features[s][m] for s, m in train_rows])
            c = np.concatenate([data[s][1][m] for s, m in train_rows])
            fit_projections(model, x, text_features[c], *train)
        x = np.concatenate([image_features[s][m] for s, m in test])
        c = np.concatenate([data[s][1][m] for s, m in test])
        queried = np.unique(c)
        images, text_embeddings = embed(model, x, text_features[queried])
        results[split] = concept_recall(images, c, text_embeddings, queried, KS)
    return results


def _reset_heads(model):
    for layer in (model.image_projection, model.text_projection):
        layer.kernel.assign(
            keras.initializers.GlorotUniform(seed=0)(layer.kernel.shape)
        )
    model.log_logit_scale.assign(np.log(1 / model.temperature))
    # A fresh optimizer state: the step count and the moments, not the
    # learning rate (also one of its variables).
    for variable in model.optimizer.variables:
        if not variable.path.endswith("learning_rate"):
            variable.assign(ops.zeros_like(variable))


def photos():
    out = {}
    for name in PHOTOS:
        image = getattr(skimage.data, name)()
        if isinstance(image, tuple):  # (left, right, disparity)
            image = image[0]
        image = np.asarray(image)
        if image.dtype == bool:
            image = np.where(image, 0, 255).astype("uint8")
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        out[name] = image[..., :3].astype("uint8")
    return out


def photo_ranks(model, captions):
    concepts = np.array(sorted(captions))
    texts = [captions[c] for c in concepts]
    names = [t.split(":")[0] for t in texts]
    text_embeddings = ops.convert_to_numpy(
        model.encode_text(model.preprocessor.tokenize(texts))
    )
    rows = []
    for name, image in photos().items():
        pixels = model.preprocessor.convert_images(image[None])
        query = ops.convert_to_numpy(model.encode_image(pixels))[0]
        scores = text_embeddings @ query
        order = np.argsort(-scores, kind="stable")
        right = [i for i, n in enumerate(names) if n in PHOTOS[name]]
        rank = 1 + int((scores > scores[right].max()).sum())
        top = [names[i] for i in order[:5]]
        rows.append((name, names[right[np.argmax(scores[right])]], rank, top))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    recipe = training.load_config("dual_encoder_emoji")
    parser.add_argument("--epochs", type=int, default=recipe["epochs"])
    args = parser.parse_args()
    batch = recipe["data"]["kwargs"]["batch_size"]
    started = time.time()
    data, captions = drawings()
    held = held_out_concepts()
    print(
        f"{len(captions)} concepts, {len(held)} held out; drawings "
        + ", ".join(f"{s} {len(data[s][1])}" for s in STYLES)
    )
    entry = mmkeras.zoo.load(ENTRY)
    # The entry's towers are the recipe's: their outputs serve both.
    features = tower_features(entry, data, captions)
    rows = {"(a) " + ENTRY: measure(entry, data, features, held)}
    retrained = MODEL_BUILDERS.call(recipe["model"])
    concept = measure(retrained, data, features, held, (args.epochs, batch))
    rows["(a) " + ENTRY]["concept"] = concept["concept"]
    random_spec = {
        **recipe["model"],
        "kwargs": {**recipe["model"]["kwargs"], "pretrained": False},
    }
    random_towers = MODEL_BUILDERS.call(random_spec)
    rows["(b) same, random towers"] = measure(
        random_towers,
        data,
        tower_features(random_towers, data, captions),
        held,
        (args.epochs, batch),
    )
    shapes = mmkeras.zoo.load(SHAPES)
    shape_features = tower_features(shapes, data, captions)
    rows["(c) " + SHAPES] = measure(shapes, data, shape_features, held)

    header = "| model | split | " + " | ".join(
        f"R@{k} {d}" for d in ("i2t", "t2i") for k in KS
    )
    print(header + " |")
    print("|---|---|" + "---|" * 6)
    for label, result in rows.items():
        for split, recall in result.items():
            cells = [
                f"{100 * recall[f'recall_at_{k}_{d}']:.1f}"
                for d in ("image_to_text", "text_to_image")
                for k in KS
            ]
            cells = " | ".join(cells)
            print(f"| {label} | held-out {split} | {cells} |")
    print(f"\nPhotos against all {len(captions)} captions ({ENTRY}):")
    print("| photo | right emoji | rank | top 5 |")
    print("|---|---|---|---|")
    for name, right, rank, top in photo_ranks(entry, captions):
        print(f"| {name} | {right} | {rank} | {'; '.join(top)} |")
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
