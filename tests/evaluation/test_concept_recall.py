"""Recall@K with relevance by concept (`concept_recall`)."""

import numpy as np
import pytest

from mmkeras.evaluation.retrieval import concept_recall


def test_drawings_that_share_a_caption_are_each_a_hit():
    # Three drawings of concepts 0, 0 and 1; texts of concepts 0 and 1.
    images = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    texts = np.array([[1.0, 0.0], [0.0, 1.0]])
    recall = concept_recall(images, [0, 0, 1], texts, [0, 1], ks=(1, 2))
    # Drawing 1 scores text 1 (0.8) above its own text 0 (0.6).
    assert recall["recall_at_1_image_to_text"] == pytest.approx(2 / 3)
    assert recall["recall_at_2_image_to_text"] == 1.0
    # Each text finds a drawing of its concept first.
    assert recall["recall_at_1_text_to_image"] == 1.0


def test_the_best_relevant_candidate_counts_and_ties_favour_the_query():
    images = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    # Text 0 (concept 0) scores image 0 (concept 0) 0, images 1 and 2
    # (concepts 1, 0) 1: its best relevant image 2 ties image 1, a hit.
    # Text 1 (concept 1) scores image 1 0.8, tied with image 2: a hit.
    texts = np.array([[0.0, 1.0], [0.6, 0.8]])
    recall = concept_recall(images, [0, 1, 0], texts, [0, 1], ks=(1,))
    assert recall["recall_at_1_text_to_image"] == 1.0
    # Image 0 scores text 1 0.6 above its own 0; image 1 text 0 1.0 above
    # its own 0.8; image 2 its own first.
    assert recall["recall_at_1_image_to_text"] == pytest.approx(1 / 3)


def test_a_query_without_a_candidate_of_its_concept_is_an_error():
    with pytest.raises(
        ValueError,
        match=r"image_to_text\): 1 queries .*"
        r"query 1\)\. Give every concept",
    ):
        concept_recall(np.eye(2), [0, 5], np.eye(2), [0, 1])
    with pytest.raises(ValueError, match="3 images and 2 texts, 2 image"):
        concept_recall(np.eye(3, 2), [0, 1], np.eye(2), [0, 1])
