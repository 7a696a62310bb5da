"""Language-model measures: perplexity on a text."""

import math

import numpy as np
from keras import ops

from mmkeras.data.documents import GETTYSBURG_DECLARATION
from mmkeras.data.documents import read_text
from mmkeras.evaluation.registry import register_evaluator


def perplexity_of(model, text):
    """`(perplexity, tokens)` of a causal LM on `text`, read as one
    sequence (its preprocessor's tokenizer; the first token is context
    only): `exp` of the mean cross-entropy of every next token."""
    ids = ops.convert_to_numpy(model.preprocessor.tokenize([text])[0])
    if len(ids) < 2:
        raise ValueError(
            f"perplexity needs a text of at least 2 tokens. Received: "
            f"{len(ids)} token(s)"
        )
    if len(ids) > model.sequence_length:
        raise ValueError(
            f"the text has {len(ids)} tokens, more than the model's "
            f"{model.sequence_length}-token context; measure a shorter text"
        )
    inputs = ids[None].astype("int32")
    logits = model({"token_ids": inputs, "padding_mask": inputs >= 0})
    log_probs = ops.convert_to_numpy(ops.log_softmax(logits[0, :-1], axis=-1))
    chosen = log_probs[np.arange(len(ids) - 1), ids[1:]]
    return math.exp(-float(np.mean(chosen, dtype="float64"))), len(ids)


@register_evaluator("perplexity")
def perplexity(model, config, path=GETTYSBURG_DECLARATION):
    """Perplexity of a causal LM on the UTF-8 text file `path` (a path or
    a `package:` URI; default the public-domain text mmkeras ships)."""
    value, tokens = perplexity_of(model, read_text(path))
    return {"perplexity": value, "perplexity_tokens": tokens}
