"""A family that leaves out a part of a base is named when its class is
written, not at its first use."""

import pytest

from mmkeras.models.generative_task import GenerativeTask
from mmkeras.models.preprocessor import Preprocessor


def test_a_generative_task_without_its_parts_is_refused():
    with pytest.raises(TypeError, match="lacks call_with_cache, cache_spec"):

        class Half(GenerativeTask):
            def build_cache(self, inputs, max_length):
                return {}


def test_a_preprocessor_without_call_is_refused():
    with pytest.raises(TypeError, match="lacks call"):

        class Empty(Preprocessor):
            pass
