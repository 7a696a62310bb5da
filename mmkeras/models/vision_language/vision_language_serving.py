from mmkeras.models.generative_serving import GenerativeServing


class VisionLanguageServing(GenerativeServing):
    """The serving side of a `VisionLanguageModel`: for now what every
    generating task exports (`GenerativeServing`): `generate` on
    converted pixels and left-padded prompt ids, and the ONNX encoder and
    decoder-step graphs. The string signature (image bytes and a prompt
    in, the answer out) is the next step of issue 20."""
