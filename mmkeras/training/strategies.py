"""Pick the `tf.distribute` strategy that fits the machine."""

import functools
import json
import os

import tensorflow as tf


def strategy(devices=None):
    """The strategy for this process: multi-worker, mirrored or default.

    * `TF_CONFIG` naming more than one worker (chief included):
      `MultiWorkerMirroredStrategy`, each worker mirroring its local GPUs.
    * `devices` given, or more than one local GPU: `MirroredStrategy`, the
      same object on every call for the same devices.
    * Otherwise the default (single-device) strategy.

    Build and compile the model inside `strategy().scope()`; Keras' `fit`
    then splits each global batch across the replicas. Compile with
    `jit_compile=False` under a mirrored strategy: the attention core is
    XLA-compiled on its own, while whole-step XLA fails there.

    Args:
        devices: devices to mirror over, e.g. `["/cpu:0", "/cpu:1"]` with
            virtual CPU devices.

    Example:

    >>> with mmkeras.training.strategy().scope():
    ...     model = build_model()
    ...     model.compile(jit_compile=False)
    """
    if num_workers() > 1:
        return _keras_compatible(tf.distribute.MultiWorkerMirroredStrategy())
    if devices is not None:
        return _mirrored(tuple(devices))
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return _mirrored(tuple(gpu.name for gpu in gpus))
    return tf.distribute.get_strategy()


@functools.cache
def _mirrored(devices):
    # One strategy per device set and process: a second MirroredStrategy
    # numbers its collective ops from the same start, and TensorFlow then
    # mixes up the two models' all-reduces ("Shape mismatch in the
    # collective instance").
    return tf.distribute.MirroredStrategy(list(devices))


def _keras_compatible(multi_worker):
    """Lets Keras 3's `fit` run on a `MultiWorkerMirroredStrategy`.

    Keras calls `strategy.reduce` with a nest of per-replica values (the
    first batch) and with `axis=0` on scalars (the step's logs); the
    multi-worker strategy accepts neither (keras-team/keras#20585). Reduce
    leaf by leaf, across replicas only for scalars.
    """
    reduce = multi_worker.reduce

    def reduce_leaf(reduce_op, leaf, axis):
        local = multi_worker.experimental_local_results(leaf)[0]
        return reduce(reduce_op, leaf, None if local.shape.rank == 0 else axis)

    def reduce_each(reduce_op, value, axis=None):
        return tf.nest.map_structure(
            lambda leaf: reduce_leaf(reduce_op, leaf, axis), value
        )

    multi_worker.reduce = reduce_each
    return multi_worker


def num_workers():
    """How many processes `TF_CONFIG` names (1 when it is unset)."""
    cluster = _tf_config().get("cluster", {})
    return max(
        1, len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    )


def is_chief():
    """Whether this process writes the outputs (checkpoints, reports)."""
    config = _tf_config()
    if num_workers() <= 1:
        return True
    task = config.get("task", {})
    if "chief" in config["cluster"]:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and task.get("index") == 0


def worker_output_dir(output_dir):
    """`output_dir` for the chief, `output_dir/worker-<i>` for other workers.

    Every worker saves the same (mirrored) state; giving the others their
    own folder keeps a shared `output_dir` to one writer.
    """
    if is_chief():
        return output_dir
    task = _tf_config()["task"]
    return os.path.join(output_dir, f"{task['type']}-{task['index']}")


def _tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({error}). Received: "
            f"TF_CONFIG={raw!r}"
        ) from None
    if not isinstance(config, dict):
        raise ValueError(
            f"TF_CONFIG must be a JSON object. Received: TF_CONFIG={raw!r}"
        )
    return config
