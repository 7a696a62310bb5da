"""Maps from reference checkpoints' tensor names to encoder variables.

A weight map is `{source_name: (variable, axes)}`: the source tensor,
transposed by `axes` (None keeps it) and reshaped to the variable's shape,
is that variable's value. Read checkpoints with `mmkeras.encoders.
checkpoints` and assign with `assign_weights`.

Example:

>>> encoder = mmkeras.encoders.BertTextEncoder.from_preset("minilm_l6")
>>> encoder.build((None, None))
>>> from mmkeras.encoders import checkpoints, weight_maps
>>> tensors = checkpoints.read_safetensors("model.safetensors")
>>> weight_maps.assign_weights(weight_maps.minilm_weight_map(encoder), tensors)
['embeddings.position_ids', 'pooler.dense.bias', 'pooler.dense.weight']
"""

import numpy as np

# In the all-MiniLM-L6-v2 checkpoint but not in `BertTextEncoder`: a buffer
# of position ids and BERT's tanh pooler, which sentence-transformers skips.
MINILM_UNUSED = (
    "embeddings.position_ids",
    "pooler.dense.weight",
    "pooler.dense.bias",
)
# torch Linear (out, in) -> Keras (in, out); conv (O, I, kh, kw) -> (kh, kw,
# I, O); depthwise (C, 1, kh, kw) -> (kh, kw, C, 1).
_LINEAR = (1, 0)
_CONV = (2, 3, 1, 0)
_DEPTHWISE = (2, 3, 0, 1)


def minilm_weight_map(encoder):
    """Hugging Face BERT names -> variables of a built `BertTextEncoder`."""
    weights = {
        "embeddings.word_embeddings.weight": (
            encoder.embedding.token_embedding.embeddings,
            None,
        ),
        "embeddings.position_embeddings.weight": (
            encoder.embedding.position_embedding,
            None,
        ),
        "embeddings.token_type_embeddings.weight": (
            encoder.segment_embedding.embeddings,
            None,
        ),
        **_layer_norm("embeddings.LayerNorm", encoder.embedding_norm),
    }
    for index, block in enumerate(encoder.blocks):
        prefix = f"encoder.layer.{index}"
        attention = block.attention
        for name in ("query", "key", "value"):
            dense = getattr(attention, f"{name}_dense")
            weights.update(_linear(f"{prefix}.attention.self.{name}", dense))
        weights.update(
            {
                **_linear(
                    f"{prefix}.attention.output.dense", attention.output_dense
                ),
                **_layer_norm(
                    f"{prefix}.attention.output.LayerNorm", block.attention_norm
                ),
                **_linear(
                    f"{prefix}.intermediate.dense",
                    block.feed_forward.hidden_dense,
                ),
                **_linear(
                    f"{prefix}.output.dense", block.feed_forward.output_dense
                ),
                **_layer_norm(
                    f"{prefix}.output.LayerNorm", block.feed_forward_norm
                ),
            }
        )
    return weights


def efficientnet_lite0_weight_map(encoder):
    """lukemelas names -> variables of a built `EfficientNetLite0Encoder`."""
    weights = {
        "_conv_stem.weight": (encoder.stem_conv.kernel, _CONV),
        **_batch_norm("_bn0", encoder.stem_bn),
        "_conv_head.weight": (encoder.head_conv.kernel, _CONV),
        **_batch_norm("_bn1", encoder.head_bn),
    }
    for index, block in enumerate(encoder.blocks):
        prefix = f"_blocks.{index}"
        if block.expand_conv is not None:
            weights[f"{prefix}._expand_conv.weight"] = (
                block.expand_conv.kernel,
                _CONV,
            )
            weights.update(_batch_norm(f"{prefix}._bn0", block.bn0))
        weights[f"{prefix}._depthwise_conv.weight"] = (
            block.depthwise_conv.kernel,
            _DEPTHWISE,
        )
        weights.update(_batch_norm(f"{prefix}._bn1", block.bn1))
        weights[f"{prefix}._project_conv.weight"] = (
            block.project_conv.kernel,
            _CONV,
        )
        weights.update(_batch_norm(f"{prefix}._bn2", block.bn2))
    if encoder.classifier is not None:
        weights.update(_linear("_fc", encoder.classifier))
    return weights


def convert(array, axes, shape):
    """The source `array` in the layout of a variable of `shape`."""
    if axes is not None:
        array = np.transpose(array, axes)
    return np.reshape(array, shape)


def assign_weights(weight_map, tensors):
    """Assigns `tensors` (name -> array) through `weight_map`.

    Returns:
        The sorted names in `tensors` that the map does not use.

    Raises:
        ValueError: naming a tensor the map needs but `tensors` lacks, or
            one whose size does not fit its variable.
    """
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise ValueError(f"The checkpoint lacks tensors {missing}.")
    for name, (variable, axes) in weight_map.items():
        array = tensors[name]
        if array.size != np.prod(variable.shape):
            raise ValueError(
                f"{name} of shape {array.shape} does not fit "
                f"{variable.path} of shape {tuple(variable.shape)}."
            )
        variable.assign(convert(array, axes, variable.shape))
    return sorted(set(tensors) - set(weight_map))


def _linear(prefix, dense):
    return {
        f"{prefix}.weight": (dense.kernel, _LINEAR),
        f"{prefix}.bias": (dense.bias, None),
    }


def _layer_norm(prefix, norm):
    return {
        f"{prefix}.weight": (norm.gamma, None),
        f"{prefix}.bias": (norm.beta, None),
    }


def _batch_norm(prefix, norm):
    return {
        f"{prefix}.weight": (norm.gamma, None),
        f"{prefix}.bias": (norm.beta, None),
        f"{prefix}.running_mean": (norm.moving_mean, None),
        f"{prefix}.running_var": (norm.moving_variance, None),
    }
