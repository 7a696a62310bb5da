"""Captions of shapes scenes, scored: BLEU-4 and CIDEr against the
references, and truthfulness, checked by the scene generator's own rules
(`mmkeras.data.caption_grammar`)."""

import numpy as np

from mmkeras import metrics
from mmkeras import samplers
from mmkeras.data import _captions
from mmkeras.data import caption_grammar
from mmkeras.data import shapes
from mmkeras.evaluation.registry import register_evaluator

UNGRAMMATICAL = "not a caption of the grammar"
# Images per `generate` call.
_BATCH = 100


@register_evaluator("caption_truthfulness")
def caption_truthfulness(
    model, config, num_images=200, seed=1, beams=(1,), prefix="test"
):
    """BLEU-4, CIDEr and truthfulness of the captions `model` generates
    for `num_images` new scenes of `seed`, greedy (`beams` 1) and with
    beam search (a width `k` > 1 adds the suffix `_beam{k}`).

    Returns:
        `{"{prefix}_bleu4": ..., "{prefix}_cider": ...,
        "{prefix}_truthfulness": ..., "{prefix}_bleu4_beam4": ...}`.
    """
    evaluation = caption_grammar.evaluation_set(num_images, seed)
    results = {}
    for width in beams:
        sampler = "greedy" if width == 1 else samplers.BeamSampler(width)
        suffix = "" if width == 1 else f"_beam{width}"
        scores = score(model, evaluation, sampler)
        for key in ("bleu4", "cider", "truthfulness"):
            results[f"{prefix}_{key}{suffix}"] = scores[key]
    return results


def score(model, evaluation, sampler="greedy"):
    """Scores the captions `sampler` writes for an `evaluation_set`.

    Returns a dict: "bleu4", "cider", "truthfulness" (the fraction of
    captions that the grammar can write and that are true of their
    scene), "falsehoods" (for each way to be false, `UNGRAMMATICAL` or one
    of `_captions.FALSEHOODS`, the fraction of captions false that way)
    and "examples" (the first six `(caption, is_true)` pairs).
    """
    images, references, scenes = evaluation
    generated = []
    for start in range(0, len(images), _BATCH):
        batch = images[start : start + _BATCH]
        generated += model.generate(batch, sampler=sampler)
    bleu, cider = metrics.Bleu4(), metrics.Cider()
    bleu.update_state(references, generated)
    cider.update_state(references, generated)
    grammar = caption_grammar.all_captions()
    reasons = [
        grammar[text].falsehood(scene) if text in grammar else UNGRAMMATICAL
        for text, scene in zip(generated, scenes, strict=True)
    ]
    truths = [reason is None for reason in reasons]
    return {
        "bleu4": float(bleu.result()),
        "cider": float(cider.result()),
        "truthfulness": float(np.mean(truths)),
        "falsehoods": {
            reason: reasons.count(reason) / len(reasons)
            for reason in (UNGRAMMATICAL, *_captions.FALSEHOODS)
        },
        "examples": list(zip(generated[:6], truths[:6], strict=True)),
    }


def reference_losses(num_images=300, seed=1):
    """Training losses (nats per label token, end token included) of two
    ideal captioners on scenes of `seed`: one that knows each scene
    fully, so its distribution is uniform over the true captions, and one
    that knows which objects are there but not where, so it is uniform
    over every caption of those objects. A training loss near the second
    means the model has learnt nothing of where objects are."""
    grammar = caption_grammar.all_captions().values()
    knows_all, knows_objects, tokens = [], [], []
    for scene in shapes.generate_scenes(num_images, seed):
        pairs = [(o.color, o.shape) for o in scene.objects]
        true = _captions.true_captions(scene, "all")
        captions_of_objects = [
            c
            for c in grammar
            if c.subject in pairs and c.reference in (None, *pairs)
        ]
        for caption in true:
            knows_all.append(np.log(len(true)))
            knows_objects.append(np.log(len(captions_of_objects)))
            tokens.append(len(caption.text.split()) + 1)
    per_token = np.mean(tokens)
    return {
        "knows the scene": float(np.mean(knows_all) / per_token),
        "knows the objects, not where": float(
            np.mean(knows_objects) / per_token
        ),
    }
