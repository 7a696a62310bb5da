"""Datasets as `tf.data.Dataset`s of dicts, and the generated scenes behind
the shapes datasets."""

from mmkeras.data._captions import RELATIONS
from mmkeras.data._questions import ANSWERS
from mmkeras.data._scenes import COLORS
from mmkeras.data._scenes import IMAGE_SIZE
from mmkeras.data._scenes import RGB
from mmkeras.data._scenes import SHAPES
from mmkeras.data._scenes import WITHHELD
from mmkeras.data._scenes import Scene
from mmkeras.data._scenes import SceneObject
from mmkeras.data._scenes import generate_scenes
from mmkeras.data._scenes import render_scene
from mmkeras.data.shapes import SCENE_FIELDS
from mmkeras.data.shapes import scene_array
from mmkeras.data.shapes import shapes_agreement
from mmkeras.data.shapes import shapes_captions
from mmkeras.data.shapes import sort_of_clevr

__all__ = [
    "ANSWERS",
    "COLORS",
    "IMAGE_SIZE",
    "RELATIONS",
    "RGB",
    "SCENE_FIELDS",
    "SHAPES",
    "WITHHELD",
    "Scene",
    "SceneObject",
    "generate_scenes",
    "render_scene",
    "scene_array",
    "shapes_agreement",
    "shapes_captions",
    "sort_of_clevr",
]
