"""Pretrained models: `mmkeras.zoo.load("name")`, offline, verified, cached.

    mmkeras.zoo.list_models()            # names, <arch>.<tag>
    mmkeras.zoo.info("efficientnet_lite0.imagenet")   # the manifest
    model = mmkeras.zoo.load("efficientnet_lite0.imagenet")
    model.class_names[285]               # "Egyptian_cat"

The catalogue is the folder `zoo/` of the repository, shipped inside the
package (`mmkeras/zoo/catalogue`); `MMKERAS_ZOO_CATALOGUE` (folders
separated by `os.pathsep`) adds catalogues searched first. Files are
checked against their sha256 and hosted ones cached in `MMKERAS_CACHE`
(default `~/.cache/mmkeras`), with the files derived from them;
`MMKERAS_OFFLINE=1` never downloads. `download` repairs a damaged cached
file; `list_entries` reads every manifest and reports the bad ones.

The package's core (catalogue, manifest, cache, `load`) imports no encoder
and no model, so `from_preset` of encoders and tasks loads through the
same `load`; only `mmkeras.zoo.loaders` (entries that are not one `.keras`
file, reached by the name in their manifest) and `mmkeras.zoo.make`
(writing entries from training runs) import models.
"""

from mmkeras.zoo import cache
from mmkeras.zoo.entries import write_entry
from mmkeras.zoo.errors import ChecksumError
from mmkeras.zoo.errors import DownloadError
from mmkeras.zoo.errors import ManifestError
from mmkeras.zoo.errors import OfflineError
from mmkeras.zoo.errors import UnknownModelError
from mmkeras.zoo.errors import ZooError
from mmkeras.zoo.golden import golden_difference
from mmkeras.zoo.golden import golden_tolerance
from mmkeras.zoo.loading import load
from mmkeras.zoo.manifest import read_manifest
from mmkeras.zoo.registry import BUNDLED_CATALOGUE
from mmkeras.zoo.registry import catalogues
from mmkeras.zoo.registry import download
from mmkeras.zoo.registry import info
from mmkeras.zoo.registry import list_entries
from mmkeras.zoo.registry import list_models

__all__ = [
    "BUNDLED_CATALOGUE",
    "ChecksumError",
    "DownloadError",
    "ManifestError",
    "OfflineError",
    "UnknownModelError",
    "ZooError",
    "cache",
    "catalogues",
    "download",
    "golden_difference",
    "golden_tolerance",
    "info",
    "list_entries",
    "list_models",
    "load",
    "read_manifest",
    "write_entry",
]
