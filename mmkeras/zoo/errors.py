"""The zoo's errors: each says what is wrong and how to fix it."""


class ZooError(ValueError):
    """Base of the zoo's errors."""


class UnknownModelError(ZooError):
    """A name that is not in the catalogue."""


class ManifestError(ZooError):
    """A manifest that does not follow the schema in `zoo/README.md`."""


class ChecksumError(ZooError):
    """A file whose sha256 is not the manifest's."""


class OfflineError(ZooError, OSError):
    """A file missing from the cache while `MMKERAS_OFFLINE=1`."""


class DownloadError(ZooError, OSError):
    """A download that failed (connection, HTTP status, short read)."""
