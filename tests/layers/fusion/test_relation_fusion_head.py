import numpy as np
import pytest

from mmkeras.layers import RelationFusionHead
from mmkeras.layers import _grid
from mmkeras.testing import run_layer_test
from tests.layers.fusion.cases import FUSION_CASES
from tests.layers.fusion.cases import HEAD_ARGS
from tests.layers.fusion.cases import IMAGE_TOKENS
from tests.layers.fusion.cases import TEXT
from tests.layers.fusion.cases import TEXT_MASK
from tests.layers.fusion.cases import TEXT_TOKENS


def test_basics():
    run_layer_test(RelationFusionHead, **FUSION_CASES["RelationFusionHead"])


def test_g_theta_has_num_layers_layers():
    head = RelationFusionHead(hidden_dim=16)
    head(*HEAD_ARGS)
    # The paper's 4: a first layer split into three projections, then 3.
    assert len(head.g_layers) == 3
    assert head.get_config()["num_layers"] == 4


def test_it_averages_g_theta_over_every_ordered_pair():
    head = RelationFusionHead(hidden_dim=16, num_layers=1)
    output = np.asarray(head(*HEAD_ARGS))
    objects = np.concatenate(
        [IMAGE_TOKENS, np.broadcast_to(_grid.grid_coordinates(9), (3, 9, 2))],
        axis=-1,
    )
    first, second, question = (
        np.asarray(layer(x))
        for layer, x in [
            (head.first_object, objects),
            (head.second_object, objects),
            (head.question_projection, TEXT),
        ]
    )
    pairs = first[:, :, None] + second[:, None] + question[:, None, None]
    expected = np.maximum(pairs, 0.0).mean(axis=(1, 2))
    np.testing.assert_allclose(output, expected, atol=1e-5)


def test_the_objects_know_where_they_are():
    head = RelationFusionHead(hidden_dim=16)
    before = head(*HEAD_ARGS)
    # The same tokens in another order are the objects at other places.
    after = head(IMAGE_TOKENS[:, ::-1], TEXT_TOKENS, TEXT_MASK, TEXT)
    assert not np.allclose(after, before, atol=1e-4)


def test_grid_coordinates_tag_a_square_grid():
    coordinates = _grid.grid_coordinates(9)
    np.testing.assert_allclose(
        coordinates[[0, 1, 3, 8]], [[-1, -1], [-1, 0], [0, -1], [1, 1]]
    )
    np.testing.assert_allclose(_grid.grid_coordinates(3)[:, 0], [-1, 0, 1])


def test_a_dynamic_number_of_image_tokens_is_refused():
    head = RelationFusionHead(hidden_dim=16)
    with pytest.raises(ValueError, match="RelationFusionHead tags image"):
        head.build((None, None, 8), (None, 5, 16), (None, 5), (None, 16))
