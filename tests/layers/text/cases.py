"""Examples for the public layers in mmkeras.layers.text."""

TEXT_CASES = {}
