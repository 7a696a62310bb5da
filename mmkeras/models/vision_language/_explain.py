"""`VisionLanguageModel.explain`: where each word of an answer looked in
the image."""

import numpy as np
from keras import ops

from mmkeras.data.vision_language import IMAGE_PLACEHOLDER
from mmkeras.models.causal_lm.causal_lm_backbone import _positions
from mmkeras.models.serving import refuse_unused

DEFAULT_QUESTION = "What is in this picture?"


def image_attention(model, inputs):
    """`(maps, share)` for model inputs `{"image", "token_ids",
    "padding_mask"}` (one image per row).

    `maps` `(batch, length, n)` over the encoder's `n` image tokens: row
    `t` is what position `t` looked at in the image to predict the next
    token; each row sums to 1. Gated design: word -> latents (each gated
    block's cross-attention, averaged over heads and blocks) times
    latents -> image tokens (the resampler's last layer, averaged over
    heads, its attention to the image tokens renormalised: a latent also
    attends to the latents). Prefix design: the last language model
    block's self-attention from the word to the image tokens' positions,
    averaged over heads and renormalised. `share` `(batch, length)` is
    the part of that attention that fell on the image before
    renormalising (1 for the gated design's cross-attention).
    """
    token_ids = ops.convert_to_tensor(inputs["token_ids"], "int32")
    padding_mask = ops.cast(inputs["padding_mask"], "bool")
    pixels = ops.cast(inputs["image"], model.compute_dtype)
    tokens = model.image_encoder(pixels, training=False)["tokens"]
    positions = _positions(padding_mask)
    attends = model.attends_image(token_ids, padding_mask)
    blocks = model.backbone.blocks
    if not model.gated:
        image = model.projector(tokens)
        x = model._embed(token_ids, image, padding_mask)
        for block in blocks[:-1]:
            x = block(x, padding_mask=padding_mask, positions=positions)
        scores = _self_attention(blocks[-1], x, padding_mask, positions)
        is_image = ops.convert_to_numpy(
            ops.equal(token_ids, model.image_token_id) & padding_mask
        )
        scores = ops.convert_to_numpy(scores)
        on_image = np.stack(
            [row[:, keep] for row, keep in zip(scores, is_image, strict=True)]
        )
        share = on_image.sum(-1)
        return on_image / np.maximum(share, 1e-9)[..., None], share
    x = model.backbone.token_embedding(token_ids)
    latents, resampled = model.resampler(tokens, return_attention_scores=True)
    count = ops.shape(tokens)[1]
    to_image = ops.mean(resampled[:, -1], axis=1)[:, :, :count]
    to_image = to_image / ops.sum(to_image, axis=-1, keepdims=True)
    to_latents = []
    for index, block in enumerate(blocks):
        if index % model.cross_attention_every == 0:
            gated = model.gated_blocks[index // model.cross_attention_every]
            x, scores = gated(
                x,
                image_latents=latents,
                attends_image=attends,
                return_attention_scores=True,
            )
            to_latents.append(ops.mean(scores, axis=1))
        x = block(x, padding_mask=padding_mask, positions=positions)
    to_latents = ops.mean(ops.stack(to_latents), axis=0)
    maps = ops.convert_to_numpy(ops.matmul(to_latents, to_image))
    return maps, np.ones(maps.shape[:2], "float32")


def _self_attention(block, x, padding_mask, positions):
    """The heads-averaged self-attention probabilities `(batch, length,
    length)` of a `DecoderOnlyBlock` on its inputs `x`."""
    normed = block.self_attention_norm(x)
    _, scores = block.self_attention(
        normed,
        normed,
        value_mask=padding_mask,
        use_causal_mask=True,
        positions=positions,
        return_attention_scores=True,
    )
    return ops.mean(scores, axis=1)


def explain(model, image, path, prompt=None, texts=(), max_new_tokens=16):
    """See `VisionLanguageModel.explain`."""
    # Imported here: the drawing helpers are no part of the model.
    from mmkeras import explain as drawing

    refuse_unused("a vision-language model", texts=texts)
    preprocessor = model.preprocessor_or_error()
    message = prompt or DEFAULT_QUESTION
    if IMAGE_PLACEHOLDER not in message:
        message = f"{IMAGE_PLACEHOLDER}\n{message}"
    prompt = preprocessor.apply_chat_template(message)
    inputs = preprocessor.generate_inputs(np.asarray(image), prompt)
    answer_ids = model.generate(
        None, inputs, max_new_tokens, return_strings=False
    )[0]
    ends = np.flatnonzero(
        (answer_ids == model.end_token_id) | (answer_ids == model.pad_token_id)
    )
    answer_ids = answer_ids[: ends[0] if ends.size else None]
    full = {
        "image": inputs["image"],
        "token_ids": np.concatenate([inputs["token_ids"][0], answer_ids])[None],
        "padding_mask": np.concatenate(
            [inputs["padding_mask"][0], np.ones(len(answer_ids), bool)]
        )[None],
    }
    maps, share = image_attention(model, full)
    # Word k was predicted at the position before it.
    start = inputs["token_ids"].shape[1] - 1
    answer = model.detokenize_answers(answer_ids[None])[0]
    converter = preprocessor.image_converter
    base = drawing.panel(drawing.display_pixels(inputs["image"][0], converter))
    question = message.replace(IMAGE_PLACEHOLDER, "").strip()
    panels = [(base, f"{question} -> {answer}")]
    for k, token in enumerate(answer_ids):
        word = preprocessor.tokenizer.detokenize([int(token)])
        word = ops.convert_to_numpy(word).item().decode("utf-8", "replace")
        label = word.strip() or repr(word)
        if not model.gated:
            label += f" ({share[0, start + k]:.0%} on the image)"
        panels.append((drawing.heat(base, maps[0, start + k]), label))
    drawing.save_png(drawing.sheet(panels), path)
    return answer
