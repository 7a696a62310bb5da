"""The 2-D shapes scene model: seeded object layouts and their rendering.

A scene is the Sort-of-CLEVR layout (Santoro et al. 2017): a 75x75 white
image with six objects, one of each colour, each a circle or a square.
Pure numpy, so scenes are cheap to make in tests and in metrics.
"""

import dataclasses
import itertools

import numpy as np

from mmkeras import _checks

IMAGE_SIZE = 75
# Side of a square and diameter of a circle, in pixels. Odd, so every
# object is symmetric about its centre pixel and its pixel centroid is
# exactly its centre.
OBJECT_SIZE = 11
NUM_OBJECTS = 6

COLORS = ("red", "green", "blue", "orange", "gray", "yellow")
SHAPES = ("circle", "square")
RGB = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "orange": (255, 156, 0),
    "gray": (128, 128, 128),
    "yellow": (255, 255, 0),
}
BACKGROUND = (255, 255, 255)

# The generalisation split: these colour-shape pairs never occur in "train"
# scenes; every "test" scene holds at least one of them; "all" has no
# constraint (the paper's distribution).
WITHHELD = (("red", "square"), ("blue", "circle"))
SPLITS = ("all", "train", "test")

_HALF = OBJECT_SIZE // 2
_CENTRE = IMAGE_SIZE // 2
# Centres on the middle row or column would be neither left nor right (top
# nor bottom) of the image centre, so they are never used.
_POSITIONS = np.array(
    [p for p in range(_HALF, IMAGE_SIZE - _HALF) if p != _CENTRE]
)


@dataclasses.dataclass(frozen=True)
class SceneObject:
    """One object: `x` is the centre column, `y` the centre row (down).

    Example:
    >>> mmkeras.data.SceneObject("red", "circle", x=10, y=60).shape
    'circle'
    """

    color: str
    shape: str
    x: int
    y: int
    size: int = OBJECT_SIZE


@dataclasses.dataclass(frozen=True)
class Scene:
    """Objects in a fixed order, one per colour, in `COLORS` order.

    Example:
    >>> scene = mmkeras.data.generate_scenes(1, seed=0)[0]
    >>> scene.find("red").color
    'red'
    """

    objects: tuple

    def find(self, color):
        """Returns the object of `color`, or None if there is none."""
        return next((o for o in self.objects if o.color == color), None)


def generate_scenes(count, seed, split="all"):
    """Generates `count` seeded scenes; the same arguments give the same list.

    Objects never overlap (at least one background pixel between bounding
    boxes), and from every object the closest and the furthest other object
    are unique (no two centre distances in a scene are equal), so relational
    questions have one answer.

    Args:
        count: number of scenes, a positive integer.
        seed: a non-negative integer.
        split: "all", "train" (no `WITHHELD` colour-shape pair) or "test"
            (at least one `WITHHELD` pair per scene).

    Returns:
        A list of `Scene`s. A shorter list with the same seed is a prefix.

    Example:
    >>> scenes = mmkeras.data.generate_scenes(100, seed=0, split="train")
    >>> len(scenes[0].objects)
    6
    """
    _checks.positive_int("count", count)
    check_seed(seed)
    _checks.one_of("split", split, SPLITS)
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    return [_scene(rng, split) for _ in range(count)]


def render_scene(scene):
    """Draws `scene` as a uint8 array of shape (75, 75, 3), without
    anti-aliasing: every pixel is the background or one object's colour.

    Example:
    >>> scene = mmkeras.data.generate_scenes(1, seed=0)[0]
    >>> mmkeras.data.render_scene(scene).shape
    (75, 75, 3)
    """
    image = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    image[...] = BACKGROUND
    for obj in scene.objects:
        window = image[
            obj.y - _HALF : obj.y + _HALF + 1, obj.x - _HALF : obj.x + _HALF + 1
        ]
        window[_MASKS[obj.shape]] = RGB[obj.color]
    return image


def check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(
            f"seed must be a non-negative integer. Received: seed={seed!r}"
        )


def _scene(rng, split):
    while True:
        shapes = rng.integers(0, len(SHAPES), NUM_OBJECTS)
        pairs = {(c, SHAPES[s]) for c, s in zip(COLORS, shapes, strict=True)}
        withheld = pairs & set(WITHHELD)
        if (split == "train" and withheld) or (
            split == "test" and not withheld
        ):
            continue
        centres = _centres(rng)
        if centres is not None and _distances_distinct(centres):
            return Scene(
                tuple(
                    SceneObject(color, SHAPES[s], int(x), int(y))
                    for color, s, (x, y) in zip(
                        COLORS, shapes, centres, strict=True
                    )
                )
            )


def _centres(rng):
    centres = []
    for _ in range(100 * NUM_OBJECTS):
        x, y = rng.choice(_POSITIONS, 2)
        if all(
            max(abs(x - cx), abs(y - cy)) > OBJECT_SIZE for cx, cy in centres
        ):
            centres.append((x, y))
            if len(centres) == NUM_OBJECTS:
                return centres
    return None


def _distances_distinct(centres):
    squared = [
        (ax - bx) ** 2 + (ay - by) ** 2
        for (ax, ay), (bx, by) in itertools.combinations(centres, 2)
    ]
    return len(set(squared)) == len(squared)


def _masks():
    offsets = np.arange(-_HALF, _HALF + 1)
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    # Pixel centres within the circle of diameter OBJECT_SIZE.
    circle = dx**2 + dy**2 <= (OBJECT_SIZE / 2) ** 2
    return {"circle": circle, "square": np.ones_like(circle)}


_MASKS = _masks()
