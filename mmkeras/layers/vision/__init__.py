from mmkeras.layers.vision.conv_stem import ConvStem
from mmkeras.layers.vision.image_converter import ImageConverter
from mmkeras.layers.vision.patch_embedding import PatchEmbedding

__all__ = ["ConvStem", "ImageConverter", "PatchEmbedding"]
