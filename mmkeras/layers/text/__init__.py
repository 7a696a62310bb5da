from mmkeras.layers.text.token_and_position_embedding import (
    TokenAndPositionEmbedding,
)

__all__ = ["TokenAndPositionEmbedding"]
