"""Examples for the public layers in mmkeras.layers.vision."""

VISION_CASES = {}
