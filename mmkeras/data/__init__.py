"""Datasets as `tf.data.Dataset`s of dicts.

Generated (seeded) shapes scenes, real datasets that ship as packages
(easy-VQA, Fashion-MNIST) or inside mmkeras (emoji), and readers for the
official formats users bring.
Dataset-specific constants live in their modules, e.g.
`mmkeras.data.shapes.ANSWERS`. `DATASETS` holds the training splits a
config names (`mmkeras.data.splits`, `mmkeras.data.color_match`).
"""

from mmkeras.data import caption_grammar
from mmkeras.data import image_text_pairs
from mmkeras.data import references
from mmkeras.data import splits
from mmkeras.data._records import DataError
from mmkeras.data._records import ReadReport
from mmkeras.data.coco import coco_captions
from mmkeras.data.color_match import color_match
from mmkeras.data.color_match import color_match_arrays
from mmkeras.data.documents import read_text
from mmkeras.data.documents import text_file
from mmkeras.data.easy_vqa import easy_vqa
from mmkeras.data.easy_vqa import easy_vqa_answers
from mmkeras.data.emoji import EmojiRecord
from mmkeras.data.emoji import emoji
from mmkeras.data.emoji import emoji_caption
from mmkeras.data.emoji import emoji_captions
from mmkeras.data.emoji import emoji_records
from mmkeras.data.fashion_mnist import DatasetNotFoundError
from mmkeras.data.fashion_mnist import fashion_mnist
from mmkeras.data.fashion_mnist import read_idx
from mmkeras.data.hateful_memes import hateful_memes
from mmkeras.data.images import decode_image
from mmkeras.data.images import load_image
from mmkeras.data.images import preprocess_image
from mmkeras.data.karpathy import karpathy_captions
from mmkeras.data.registry import DATASETS
from mmkeras.data.registry import build_splits
from mmkeras.data.registry import register_dataset
from mmkeras.data.shapes import Scene
from mmkeras.data.shapes import SceneObject
from mmkeras.data.shapes import generate_scenes
from mmkeras.data.shapes import render_scene
from mmkeras.data.shapes import shapes_agreement
from mmkeras.data.shapes import shapes_captions
from mmkeras.data.shapes import sort_of_clevr
from mmkeras.data.vision_language import vision_language_instructions
from mmkeras.data.vqa_v2 import build_answer_vocabulary
from mmkeras.data.vqa_v2 import vqa_v2

__all__ = [
    "DATASETS",
    "DataError",
    "DatasetNotFoundError",
    "EmojiRecord",
    "ReadReport",
    "Scene",
    "SceneObject",
    "build_answer_vocabulary",
    "build_splits",
    "caption_grammar",
    "coco_captions",
    "color_match",
    "color_match_arrays",
    "decode_image",
    "easy_vqa",
    "easy_vqa_answers",
    "emoji",
    "emoji_caption",
    "emoji_captions",
    "emoji_records",
    "fashion_mnist",
    "generate_scenes",
    "hateful_memes",
    "image_text_pairs",
    "karpathy_captions",
    "load_image",
    "preprocess_image",
    "read_idx",
    "read_text",
    "references",
    "register_dataset",
    "render_scene",
    "shapes_agreement",
    "shapes_captions",
    "sort_of_clevr",
    "splits",
    "text_file",
    "vision_language_instructions",
    "vqa_v2",
]
