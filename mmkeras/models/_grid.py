"""The grid helpers live in `mmkeras.layers._grid` (the fusion heads use
them and layers import no models); re-exported for the models' imports."""

from mmkeras.layers._grid import grid_coordinates
from mmkeras.layers._grid import square_side
from mmkeras.layers._grid import static_grid
from mmkeras.layers._grid import with_coordinates

__all__ = ["grid_coordinates", "square_side", "static_grid", "with_coordinates"]
