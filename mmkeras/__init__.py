"""mmkeras: multimodal (image + text) models for TensorFlow / Keras 3."""

import os

# Keras 3 reads the backend once, at its first import; mmkeras needs the
# TensorFlow backend (tf.data, tf-text, SavedModel export, tf.distribute).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow's C++ INFO lines (XLA service, devices); warnings still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from mmkeras import _quiet  # noqa: E402

_quiet.start_tensorflow()

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "mmkeras needs the TensorFlow backend of Keras, but Keras was "
        f"already loaded with backend '{keras.backend.backend()}'. Import "
        "mmkeras before keras, or set KERAS_BACKEND=tensorflow."
    )

from mmkeras import data  # noqa: E402
from mmkeras import encoders  # noqa: E402
from mmkeras import explain  # noqa: E402
from mmkeras import export  # noqa: E402
from mmkeras import layers  # noqa: E402
from mmkeras import losses  # noqa: E402
from mmkeras import metrics  # noqa: E402
from mmkeras import models  # noqa: E402
from mmkeras import samplers  # noqa: E402
from mmkeras import text  # noqa: E402
from mmkeras import training  # noqa: E402
from mmkeras import zoo  # noqa: E402

__version__ = "0.1.0.dev0"

__all__ = [
    "data",
    "encoders",
    "explain",
    "export",
    "layers",
    "losses",
    "metrics",
    "models",
    "samplers",
    "text",
    "training",
    "zoo",
    "__version__",
]
