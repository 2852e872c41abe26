"""What every scan geometry is as a value (2-D and cone beam alike): immutable, described by its parameters
(``_params()``), rebuilt with some of them changed, compared and hashed by them, written as plain data."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["ParameterValue"]


class ParameterValue:
    """Base of the geometries: subclasses set ``kind`` and define ``_params()`` (the constructor's keyword
    arguments, as stored); everything else here follows from them."""

    kind: str = ""

    def _params(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace({name}=...) for a modified copy")

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python description (JSON-serialisable): ``{"type": ..., "angles": [...], ...}``."""
        d: dict[str, Any] = {"type": self.kind}
        for k, v in self._params().items():
            d[k] = v.tolist() if isinstance(v, np.ndarray) else (list(v) if isinstance(v, tuple) else v)
        return d

    def to_json(self, **kwargs: Any) -> str:
        """JSON text of :meth:`to_dict`; angles are written with full float64 precision."""
        return json.dumps(self.to_dict(), **kwargs)

    def replace(self, **changes: Any) -> Any:
        """A copy with some parameters changed, e.g. ``geom.replace(angles=geom.angles[::4])``."""
        params = self._params()
        unknown = set(changes) - set(params)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no parameter(s) {sorted(unknown)}")
        params.update(changes)
        return type(self)(**params)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        a, b = self._params(), other._params()  # type: ignore[attr-defined]
        return all(np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k] for k in a)

    def __hash__(self) -> int:
        return hash((self.kind,) + tuple(v.tobytes() if isinstance(v, np.ndarray) else v
                                         for v in self._params().values()))
