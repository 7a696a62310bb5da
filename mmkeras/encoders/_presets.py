"""Size presets: named constructor arguments kept in code."""

import difflib


class PresetMixin:
    """Adds `from_preset(name, **overrides)` over a class's `presets` dict."""

    presets = {}

    @classmethod
    def from_preset(cls, name, **overrides):
        """Builds the encoder from the preset `name`.

        Args:
            name: a key of `presets`.
            **overrides: constructor arguments that replace the preset's
                (or that the preset leaves to the caller, such as
                `vocabulary_size`).

        Returns:
            A new, unbuilt encoder.
        """
        if name not in cls.presets:
            raise ValueError(_unknown(cls, name))
        return cls(**{**cls.presets[name], **overrides})


def _unknown(cls, name):
    available = ", ".join(sorted(cls.presets))
    close = difflib.get_close_matches(str(name), list(cls.presets), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return (
        f"Unknown preset for {cls.__name__}. Received: name={name!r}. "
        f"Available presets: {available}.{hint}"
    )
