"""The closed grammar of the shapes captions (`shapes_captions`): every
caption it can write, its words, its vocabulary, and which captions are
true of which scene. Captioners and dual encoders on shapes scenes use
these as their vocabularies, and their evaluators to check captions."""

import functools

import numpy as np

from mmkeras.data import _captions
from mmkeras.data import _scenes
from mmkeras.data import shapes
from mmkeras.text import build_vocabulary

# Every word a caption can hold, so a vocabulary of them has no [UNK].
CAPTION_WORDS = sorted(
    {"a", "an", "there", "is", *_scenes.COLORS, *_scenes.SHAPES}
    | {word for relation in _captions.RELATIONS for word in relation.split()}
)
# The closed vocabulary of dual encoders on shapes captions.
CAPTION_VOCABULARY = ["[PAD]", "[UNK]", *CAPTION_WORDS]


@functools.cache
def all_captions():
    """Every caption text the grammar can write, true or not, with its
    `Caption` (so a generated text can be checked against a scene).

    Example:

    >>> grammar = mmkeras.data.caption_grammar.all_captions()
    >>> grammar["a red circle"].is_true(scene)
    """
    pairs = [(c, s) for c in _scenes.COLORS for s in _scenes.SHAPES]
    captions = [
        _captions.Caption(a, relation, b, there_is)
        for there_is in (False, True)
        for a in pairs
        for relation in (None, *_captions.RELATIONS)
        for b in ([None] if relation is None else pairs)
        if b is None or a[0] != b[0]
    ]
    return {caption.text: caption for caption in captions}


def caption_vocabulary():
    """A WordPiece vocabulary over every caption of the grammar (every
    word is a token), built with `mmkeras.text.build_vocabulary`: the
    tokens in id order."""
    return list(_caption_vocabulary())


@functools.cache
def _caption_vocabulary():
    return tuple(build_vocabulary(list(all_captions()), 100))


def relevance(scenes, captions):
    """`relevant[i, j]`: caption j (a text, or bytes) is a caption of the
    grammar true of scene i (a `Scene` or its `"scene"` array)."""
    grammar = all_captions()
    scenes = [
        s if isinstance(s, _scenes.Scene) else scene_from_array(s)
        for s in scenes
    ]
    parsed = [
        grammar.get(c.decode() if isinstance(c, bytes) else str(c))
        for c in captions
    ]
    return np.array(
        [[c is not None and c.is_true(s) for c in parsed] for s in scenes]
    )


def scene_from_array(array):
    """The `Scene` of a `"scene"` array (the inverse of
    `mmkeras.data.shapes.scene_array`)."""
    return _scenes.Scene(
        tuple(
            _scenes.SceneObject(
                _scenes.COLORS[color],
                _scenes.SHAPES[shape],
                int(x),
                int(y),
                int(size),
            )
            for color, shape, x, y, size in np.asarray(array)
        )
    )


def caption_truth(num_images, seed, split="all"):
    """`truth[i, j]`: caption j of `shapes_captions(num_images, seed,
    split, captions_per_image=1)` is true of scene i (the diagonal always
    is)."""
    scenes = shapes.generate_scenes(num_images, seed, split)
    captions = [
        element["caption"].numpy().decode()
        for element in shapes.shapes_captions(
            num_images, seed, split=split, captions_per_image=1
        )
    ]
    true = [{c.text for c in _captions.true_captions(s, "all")} for s in scenes]
    return np.array([[c in t for c in captions] for t in true])


def evaluation_set(num_images, seed=1, captions=5):
    """Scenes to caption and their references: `(images, references,
    scenes)`, the uint8 images, `captions` true reference captions per
    image (`shapes_captions` of `seed`) and the `Scene`s to check
    generated captions against."""
    data = shapes.shapes_captions(
        num_images, seed=seed, captions_per_image=captions
    )
    elements = list(data.batch(captions).as_numpy_iterator())
    images = np.stack([e["image"][0] for e in elements])
    references = [[c.decode() for c in e["caption"]] for e in elements]
    return images, references, shapes.generate_scenes(num_images, seed)
