"""Tokenizers and vocabularies on tensorflow-text (TensorFlow only)."""

from mmkeras.text.byte_pair_tokenizer import BytePairTokenizer
from mmkeras.text.vocabulary import build_vocabulary
from mmkeras.text.vocabulary import load_vocabulary
from mmkeras.text.vocabulary import save_vocabulary
from mmkeras.text.word_piece_tokenizer import WordPieceTokenizer

__all__ = [
    "BytePairTokenizer",
    "WordPieceTokenizer",
    "build_vocabulary",
    "load_vocabulary",
    "save_vocabulary",
]
