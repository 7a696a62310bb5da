"""Does ViLT pretraining help? easy-VQA accuracy of the same small ViLT
fine-tuned from a pretrained backbone and from scratch, at equal
fine-tuning steps and seeds.

Pretrains `ViLTPretrainer` (ITM + MLM + ITC, `mmkeras.models.vilt.
builders.shapes_pretrainer`) with plain `fit` on shapes captions
(`shapes_caption_pairs`) and, half the batches, emoji captions
(`emoji_caption_pairs`' training styles), then fine-tunes `ViLTVQA` on
easy-VQA twice:
once from the pretrained backbone, once from a new backbone built with
the same seed; both with the same head seed, data order and steps. Prints
the pretraining losses, both test accuracies and their ratio.
`--pretrained FILE` fine-tunes a saved pretrainer instead (the zoo's
`vilt_tiny.emoji_shapes` is `runs/vilt/model.keras` of its config).

    .venv/bin/python benchmarks/vilt_pretraining.py
    .venv/bin/python benchmarks/vilt_pretraining.py \
        --pretrained runs/vilt/model.keras
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402
import keras  # noqa: E402
import rich.console  # noqa: E402
import rich.table  # noqa: E402
import tensorflow as tf  # noqa: E402

from mmkeras import data  # noqa: E402
from mmkeras.data import splits  # noqa: E402
from mmkeras.models.vilt import builders  # noqa: E402
from mmkeras.models.vilt_vqa import builders as vqa_builders  # noqa: E402

console = rich.console.Console(width=None if sys.stdout.isatty() else 150)


def _pairs(dataset):
    """`{"image", "caption"}` with 32x32 uint8 images, so the two corpora
    mix in one dataset."""
    size = (builders.IMAGE_SIZE,) * 2

    def pair(element):
        image = tf.image.resize(element["image"], size)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return {"image": image, "caption": element["caption"]}

    return dataset.map(pair)


def pretrain(steps, batch_size, scenes, emoji):
    keras.utils.set_random_seed(0)
    model = builders.shapes_pretrainer(decay_steps=steps, emoji=emoji)
    pairs = _pairs(
        splits.caption_pair_splits(
            num_train=scenes, batch_size=batch_size, split="train"
        ).repeat()
    )
    if emoji:
        # Held out: the Twitter style (the emoji dataset's default split).
        drawings = data.emoji(
            "train", image_size=builders.IMAGE_SIZE, batch_size=batch_size
        )
        drawings = _pairs(drawings.shuffle(64, seed=0).repeat())
        pairs = tf.data.Dataset.sample_from_datasets(
            [pairs, drawings], seed=0, rerandomize_each_iteration=True
        )
    epochs = 8
    history = model.fit(
        pairs, steps_per_epoch=steps // epochs, epochs=epochs, verbose=2
    ).history
    return model, history


def fine_tune(backbone, steps, batch_size, emoji):
    keras.utils.set_random_seed(1)
    model = vqa_builders.easy_vqa(backbone, decay_steps=steps, emoji=emoji)
    train = data.easy_vqa(
        "train",
        image_size=builders.IMAGE_SIZE,
        batch_size=batch_size,
        shuffle=True,
        seed=0,
    ).repeat()
    model.fit(train, steps_per_epoch=steps, epochs=1, verbose=2)
    test = data.easy_vqa("test", image_size=builders.IMAGE_SIZE, batch_size=256)
    return model.evaluate(test, verbose=0, return_dict=True)["accuracy"]


@click.command()
@click.option("--save", help="A .keras path for the pretrained model.")
@click.option(
    "--pretrained",
    help="A saved ViLTPretrainer (.keras) to fine-tune instead of "
    "pretraining one.",
)
@click.option("--pretrain-steps", default=1200, show_default=True)
@click.option("--fine-tune-steps", default=300, show_default=True)
@click.option("--batch-size", default=32, show_default=True)
@click.option(
    "--emoji/--no-emoji",
    default=True,
    show_default=True,
    help="Pretrain on emoji captions too (half the batches).",
)
@click.option(
    "--scenes",
    default=4000,
    show_default=True,
    help="Shapes scenes of the pretraining pairs.",
)
def main(
    pretrain_steps, fine_tune_steps, batch_size, emoji, scenes, save, pretrained
):
    start = time.time()
    if pretrained:
        pretrainer, history = keras.saving.load_model(pretrained), None
    else:
        pretrainer, history = pretrain(
            pretrain_steps, batch_size, scenes, emoji
        )
    pretrain_minutes = (time.time() - start) / 60
    if save:
        pretrainer.save(save)
    tokenizer = builders.tokenizer(emoji)
    keras.utils.set_random_seed(0)
    scratch = builders.small_backbone(tokenizer.vocabulary_size())
    accuracy = {
        "pretrained": fine_tune(
            pretrainer.backbone, fine_tune_steps, batch_size, emoji
        ),
        "scratch": fine_tune(scratch, fine_tune_steps, batch_size, emoji),
    }
    table = rich.table.Table(title="ViLT: easy-VQA test accuracy")
    for column in ("backbone", "fine-tune steps", "test accuracy"):
        table.add_column(column)
    for name, value in accuracy.items():
        table.add_row(name, str(fine_tune_steps), f"{value:.4f}")
    console.print(table)
    if history is not None:
        print_losses(history)
    ratio = accuracy["pretrained"] / max(accuracy["scratch"], 1e-9)
    steps = pretrained or f"{pretrain_steps} steps"
    console.print(
        f"pretrained / scratch accuracy: {ratio:.3f}; pretraining "
        f"{steps} ({pretrain_minutes:.1f} min), wall "
        f"{(time.time() - start) / 60:.1f} min, load "
        f"{os.getloadavg()[0]:.1f}"
    )


def print_losses(history):
    losses = rich.table.Table(title="Pretraining losses per eighth")
    for column in ("eighth", "itm", "mlm", "itc", "itm accuracy"):
        losses.add_column(column)
    for i in range(len(history["loss"])):
        losses.add_row(
            str(i + 1),
            *(
                f"{history[k][i]:.4f}"
                for k in ("itm_loss", "mlm_loss", "itc_loss", "itm_accuracy")
            ),
        )
    console.print(losses)


if __name__ == "__main__":
    main()
