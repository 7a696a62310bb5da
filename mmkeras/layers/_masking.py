"""Reading and attaching the padding masks Keras puts on tensors.

`keras.layers.Embedding(mask_zero=True)` (and our
`TokenAndPositionEmbedding`) attach a mask that Keras passes along only as
`mask=` of the first input. Attention needs the mask of its other inputs
too, so we read it the way Keras' own `MultiHeadAttention` does; Keras has
no public API for it.
"""

from keras.src.backend import get_keras_mask
from keras.src.backend import set_keras_mask


def padding_mask(tensor, explicit=None):
    """The explicit mask if given, else the one Keras attached, else None."""
    if explicit is not None or tensor is None:
        return explicit
    return get_keras_mask(tensor)


def attach(tensor, mask):
    """Attaches `mask` for layers whose second output Keras cannot infer."""
    if mask is not None:
        set_keras_mask(tensor, mask)
    return tensor
