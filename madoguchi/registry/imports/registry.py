"""The registry of replica import formats: `@register("name")` on an `ImportFormat` subclass.

Formats live in `registry/imports/contrib/<name>/format.py` and register themselves when the
registry app is ready; tests build a fresh `Registry()` to try a format on its own.
"""

from .base import ImportFormat, ImportRefused


class Registry:
    def __init__(self):
        self._formats: dict[str, type[ImportFormat]] = {}

    def __call__(self, name: str):
        def decorator(cls: type[ImportFormat]) -> type[ImportFormat]:
            if name in self._formats:
                raise ValueError(f"Import format {name!r} is already registered.")
            cls.name = name
            self._formats[name] = cls
            return cls
        return decorator

    def __iter__(self):
        return iter(sorted(self._formats.items()))

    def get(self, name: str) -> ImportFormat:
        try:
            return self._formats[name]()
        except KeyError:
            raise ImportRefused("unknown_format", f"Unknown import format {name!r}; known: "
                                f"{', '.join(sorted(self._formats))}.") from None


register = Registry()
