import keras
import numpy as np
import pytest

from mmkeras import samplers

CLASSES = {
    "greedy": samplers.GreedySampler,
    "beam": samplers.BeamSampler,
    "top_k": samplers.TopKSampler,
    "top_p": samplers.TopPSampler,
}


@pytest.mark.parametrize("name", CLASSES)
def test_get_by_name(name):
    sampler = samplers.get(name)
    assert type(sampler) is CLASSES[name]
    assert type(samplers.get(CLASSES[name].__name__)) is CLASSES[name]


def test_get_by_config_and_instance():
    sampler = samplers.get({"class_name": "top_p", "config": {"p": 0.5}})
    assert (sampler.p, sampler.k, sampler.seed) == (0.5, None, None)
    beam = samplers.BeamSampler(3, length_penalty=0.6, return_all_beams=True)
    assert samplers.get(beam) is beam
    for config in (samplers.serialize(beam), {"class_name": "BeamSampler"}):
        restored = samplers.get(config)
        assert isinstance(restored, samplers.BeamSampler)
    assert restored.get_config() == samplers.BeamSampler().get_config()
    clone = keras.saving.deserialize_keras_object(samplers.serialize(beam))
    assert clone.get_config() == beam.get_config()


def test_get_errors():
    with pytest.raises(ValueError, match="'nucleus'.*'greedy', 'beam'"):
        samplers.get("nucleus")
    with pytest.raises(ValueError, match="p=1.5"):
        samplers.get({"class_name": "top_p", "config": {"p": 1.5}})
    with pytest.raises(ValueError, match="identifier=42"):
        samplers.get(42)


def test_a_sampler_without_get_next_token_cannot_be_made():
    class Incomplete(samplers.Sampler):
        pass

    with pytest.raises(TypeError, match="abstract method.*get_next_token"):
        Incomplete()


def test_static_max_length_is_required():
    with pytest.raises(ValueError, match="max_length"):
        samplers.GreedySampler()(None, np.zeros((2,), "int32"), (), 1)
