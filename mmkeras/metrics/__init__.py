"""Streaming metrics for captioning, VQA and retrieval.

All are `keras.metrics.Metric`s for `model.compile(metrics=[...])`; see
each class for its inputs and how it behaves under distribution strategies.
"""

from mmkeras.metrics.bleu4 import Bleu4
from mmkeras.metrics.cider import Cider
from mmkeras.metrics.recall_at_k import RecallAtK
from mmkeras.metrics.vqa_accuracy import VQAAccuracy

__all__ = ["Bleu4", "Cider", "RecallAtK", "VQAAccuracy"]
