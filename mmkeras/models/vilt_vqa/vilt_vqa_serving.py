from mmkeras.models.vqa.vqa_serving import VQAServing


class ViLTVQAServing(VQAServing):
    """Export of `ViLTVQA`: as `VQAModel`'s (`answer`, `logits`)."""
