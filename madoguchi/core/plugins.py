"""A registry of plugins by name, filled by a class decorator: `@register("sandbox")`.

One instance per plugin kind (identity providers, payment providers, ...). A plugin lives in
`<package>.<name>.provider` and is imported the first time its name is asked for, so settings can
name a provider that nothing imported yet. Tests make a fresh `Registry` of their own.
"""

from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str = "", module: str = "provider"):
        self.kind = kind
        self.package = package
        self.module = module
        self._plugins: dict[str, T] = {}

    def __call__(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: register one instance of the class under `name`."""
        if not name.isidentifier():
            raise ValueError(f"{self.kind} plugin name {name!r} is not an identifier")

        def decorator(cls: type[T]) -> type[T]:
            if name in self._plugins:
                raise ValueError(f"{self.kind} plugin {name!r} is already registered")
            cls.name = name
            self._plugins[name] = cls()
            return cls

        return decorator

    def __getitem__(self, name: str) -> T:
        """The plugin `name`, importing its module first if needed; KeyError if there is none."""
        if name not in self._plugins and self.package and name.isidentifier():
            try:
                import_module(f"{self.package}.{name}.{self.module}")
            except ModuleNotFoundError as exc:
                if not (exc.name or "").startswith(f"{self.package}.{name}"):
                    raise  # the plugin exists but needs something missing: say so
        if name not in self._plugins:
            raise KeyError(f"no {self.kind} plugin {name!r}")
        return self._plugins[name]

    def __contains__(self, name: str) -> bool:
        return name in self._plugins

    def __iter__(self) -> Iterator[T]:
        return iter(self._plugins.values())
