"""Resource arithmetic: sets of named, possibly fractional, amounts.

Amounts are kept as integers in units of 1/10000 so that acquiring and
releasing 0.1 CPU ten thousand times returns exactly to where it started
(float sums drift; a drifted 0.9999999 CPU would block a 1-CPU task forever).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from polyray.raylet.config import validate_resources
from polyray.raylet.gpus import GpuInstances

_SCALE = 10_000


def _to_units(amount: float) -> int:
    return int(round(amount * _SCALE))


class ResourceSet:
    """An immutable map from resource name to a non-negative amount."""

    __slots__ = ("_units",)

    def __init__(self, amounts: Mapping[str, float] | None = None) -> None:
        clean = validate_resources(dict(amounts or {}))
        self._units: dict[str, int] = {}
        for name, amount in clean.items():
            units = _to_units(amount)
            if units > 0:
                self._units[name] = units

    @classmethod
    def _from_units(cls, units: dict[str, int]) -> ResourceSet:
        rs = cls.__new__(cls)
        rs._units = {k: v for k, v in units.items() if v > 0}
        return rs

    def get(self, name: str) -> float:
        """The amount of ``name`` (0 when absent)."""
        return self._units.get(name, 0) / _SCALE

    def to_dict(self) -> dict[str, float]:
        """Plain ``{name: amount}``, e.g. for a protobuf map."""
        return {k: v / _SCALE for k, v in sorted(self._units.items())}

    def is_empty(self) -> bool:
        """True when the set asks for nothing."""
        return not self._units

    def fits_in(self, other: ResourceSet) -> bool:
        """True when every amount here is at most the same amount in ``other``."""
        return all(other._units.get(k, 0) >= v for k, v in self._units.items())

    def missing_from(self, other: ResourceSet) -> dict[str, float]:
        """The names (and how much of each) that ``other`` lacks to hold this set."""
        return {
            k: (v - other._units.get(k, 0)) / _SCALE
            for k, v in self._units.items()
            if other._units.get(k, 0) < v
        }

    def __add__(self, other: ResourceSet) -> ResourceSet:
        units = dict(self._units)
        for k, v in other._units.items():
            units[k] = units.get(k, 0) + v
        return ResourceSet._from_units(units)

    def __sub__(self, other: ResourceSet) -> ResourceSet:
        """Subtract, raising ValueError if any amount would go negative."""
        units = dict(self._units)
        for k, v in other._units.items():
            left = units.get(k, 0) - v
            if left < 0:
                raise ValueError(
                    f"cannot take {v / _SCALE:g} {k}: only {units.get(k, 0) / _SCALE:g} left"
                )
            units[k] = left
        return ResourceSet._from_units(units)

    def capped_by(self, limit: ResourceSet) -> ResourceSet:
        """Each amount lowered to at most its amount in ``limit``."""
        return ResourceSet._from_units(
            {k: min(v, limit._units.get(k, 0)) for k, v in self._units.items()}
        )

    def key(self) -> tuple[tuple[str, int], ...]:
        """A hashable form, for scheduling-class keys."""
        return tuple(sorted(self._units.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResourceSet) and self._units == other._units

    def __hash__(self) -> int:
        return hash(self.key())

    def __iter__(self) -> Iterator[str]:
        return iter(self._units)

    def __repr__(self) -> str:
        return f"ResourceSet({self.to_dict()})"

    def __str__(self) -> str:
        return format_resources(self.to_dict())


def format_resources(amounts: Mapping[str, float]) -> str:
    """``{CPU: 2, GPU: 0.5}`` style text for error messages."""
    if not amounts:
        return "{}"
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in sorted(amounts.items())) + "}"


class NodeResources:
    """A node's total resources and the part not held by leases; with
    ``gpu_ids``, also which GPU index (or share of one) each lease holds."""

    def __init__(self, total: ResourceSet, gpu_ids: list[str] | None = None) -> None:
        self.total = total
        self.available = total
        self.gpus = GpuInstances(gpu_ids) if gpu_ids else None

    def can_ever_fit(self, request: ResourceSet) -> bool:
        """True when ``request`` fits in the node's total (when idle)."""
        return request.fits_in(self.total)

    def fits(self, request: ResourceSet) -> bool:
        """True when ``request`` fits in what is available now (and, for
        GPUs, in the free shares of the indices)."""
        if not request.fits_in(self.available):
            return False
        return self.gpus is None or self.gpus.fits(request.get("GPU"))

    def acquire(self, request: ResourceSet) -> tuple[str, ...]:
        """Take ``request`` from the available amounts (ValueError if it does
        not fit); the GPU indices assigned to it (empty without GPUs)."""
        gpu = request.get("GPU")
        ids = self.gpus.take(gpu) if self.gpus is not None and gpu > 0 else ()
        try:
            self.available = self.available - request
        except ValueError:
            if ids and self.gpus is not None:
                self.gpus.give(ids, gpu)
            raise
        return ids

    def release(self, request: ResourceSet, gpu_ids: tuple[str, ...] = ()) -> None:
        """Give ``request`` back (and the GPU indices ``acquire`` assigned);
        never beyond the total (a double release is harmless)."""
        self.available = (self.available + request).capped_by(self.total)
        if gpu_ids and self.gpus is not None:
            self.gpus.give(gpu_ids, request.get("GPU"))
