"""``replace`` for the rules' frozen dataclasses, at a fraction of ``dataclasses.replace``'s cost.

The fold copies a user's state a dozen times per event; ``dataclasses.replace`` walks every
field of the class on each call and then runs the generated ``__init__`` (one
``object.__setattr__`` per field of a frozen class), which made it a tenth of the batch step.
A plain frozen dataclass — no ``__post_init__``, no ``init=False`` field, no
``cached_property`` — holds exactly its fields in its ``__dict__`` (or its slots), so copying
them with the changes builds the same value. Other classes fall back to
``dataclasses.replace``.

Type checkers see ``dataclasses.replace`` itself, so every call site's field names and types
are still checked statically.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any

__all__ = ["replace"]

if TYPE_CHECKING:
    from dataclasses import replace as replace
else:
    _setattr = object.__setattr__
    _SHAPES: dict[type, tuple[tuple[str, ...], frozenset[str], bool] | None] = {}
    """Per class: its field names and whether it has slots, when the fast copy applies."""

    def _shape(cls: type) -> tuple[tuple[str, ...], frozenset[str], bool] | None:
        if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
            return None  # the copy would skip the hook
        if any(
            isinstance(v, functools.cached_property) for c in cls.__mro__ for v in vars(c).values()
        ):
            return None  # the copy would carry a value cached from the old instance
        fields = dataclasses.fields(cls)
        if any(not f.init for f in fields):
            return None
        names = tuple(f.name for f in fields)
        return names, frozenset(names), "__slots__" in cls.__dict__

    def replace(obj: Any, /, **changes: Any) -> Any:
        """A copy of the dataclass instance ``obj`` with ``changes``, as
        :func:`dataclasses.replace` builds it."""
        cls = type(obj)
        try:
            shape = _SHAPES[cls]
        except KeyError:
            shape = _SHAPES[cls] = _shape(cls)
        if shape is None:
            return dataclasses.replace(obj, **changes)
        names, known, slotted = shape
        if not known.issuperset(changes):
            unknown = ", ".join(sorted(set(changes) - known))
            raise TypeError(f"{cls.__name__} has no field(s) {unknown}")
        new = object.__new__(cls)
        if slotted:
            for name in names:
                _setattr(new, name, changes[name] if name in changes else getattr(obj, name))
        else:
            state = new.__dict__
            state.update(obj.__dict__)
            state.update(changes)
        return new
