"""Examples for the public layers in mmkeras.layers.fusion."""

FUSION_CASES = {}
