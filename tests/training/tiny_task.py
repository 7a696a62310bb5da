"""A tiny, seeded training task for the training tests (built from the
layers, with dropout so random state must survive a resume too)."""

import os
import signal

import keras
import numpy as np
import tensorflow as tf

import mmkeras


def datasets(count=96, batch_size=8, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.standard_normal((count, 6, 8)).astype("float32")
    labels = (tokens[:, :, 0].sum(axis=1) > 0).astype("int32")
    train = (
        tf.data.Dataset.from_tensor_slices((tokens, labels))
        .shuffle(count, seed=seed)
        .batch(batch_size, drop_remainder=True)
    )
    validation = tf.data.Dataset.from_tensor_slices(
        (tokens[:16], labels[:16])
    ).batch(8)
    return train, validation


def model(xla=True):
    tokens = keras.Input((6, 8))
    x = mmkeras.layers.TransformerEncoderBlock(
        num_heads=2, intermediate_dim=16, dropout=0.1, xla=xla
    )(tokens)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(2)(x)
    result = keras.Model(tokens, outputs)
    result.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
    )
    return result


class KillAtStep(keras.callbacks.Callback):
    """SIGKILLs this process at a global step, once (a marker file says
    it happened), to test resuming after a hard crash."""

    def __init__(self, step, marker):
        super().__init__()
        self.step = step
        self.marker = marker

    def on_train_batch_end(self, batch, logs=None):
        done = int(self.model.optimizer.iterations.numpy())
        if done == self.step and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)


class RunEagerly(keras.callbacks.Callback):
    """Runs the model's steps eagerly (test-only, through a config's
    `callbacks`): the resume test trains every shipped config three times
    for a few steps, and tracing the steps cost more than running them."""

    def set_model(self, model):
        super().set_model(model)
        model.run_eagerly = True


def get_config():
    """Tiny task: `mmkeras train tests/training/tiny_task.py --out DIR`.

    Data: 96 seeded random sequences, label = sign of a feature sum.
    Takes a few seconds on 2 CPU cores.
    """
    return {
        # Plain attention: XLA compiles cost seconds per run.
        "model": {
            "fn": "tests.training.tiny_task.model",
            "kwargs": {"xla": False},
        },
        "data": {"fn": "tests.training.tiny_task.datasets", "kwargs": {}},
        "epochs": 3,
        "seed": 0,
        "backup_every_steps": 4,
        "callbacks": [],
    }


def evaluate(model, config, prefix="validation"):
    """An evaluator a config can name by `fn`: the validation accuracy."""
    validation = mmkeras.training.build_datasets(config, "validation")
    result = model.evaluate(validation, verbose=0, return_dict=True)
    return {f"{prefix}_accuracy": result["accuracy"]}
