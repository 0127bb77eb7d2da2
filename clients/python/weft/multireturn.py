"""Multiple-return tasks in Dask graphs (weft.dataframe_optimize builds them,
and weft.translate makes them of tasks read only through getitem).

`(MultipleReturn(f, k), *args)` is a task whose callable returns k values
(a sequence, or a dict with keys 0..k-1, as dask's shuffle_group returns);
`(multiple_return_get, key, j)` is its value j. Any Dask scheduler runs such a
graph (the first is a list, the second an index into it); weft runs the first
as one task with `"returns": k` that stores each value as its own object and
the second as `{"$ref": key, "index": j}`, which reads only that object.

Standard library only.
"""
from __future__ import annotations

from typing import Any, Callable


class MultipleReturn:
    __slots__ = ("func", "n")

    def __init__(self, func: Callable[..., Any], n: int):
        if not callable(func):
            raise TypeError(f"MultipleReturn needs a callable, got {func!r}")
        if type(n) is not int or n < 1:
            raise ValueError(f"MultipleReturn needs a number of values >= 1, got {n!r}")
        self.func = func
        self.n = n

    def __call__(self, *args: Any, **kwargs: Any) -> list:
        out = self.func(*args, **kwargs)
        if isinstance(out, dict):
            return [out[i] for i in range(self.n)]
        return list(out)

    def __repr__(self) -> str:
        return f"MultipleReturn({self.func!r}, {self.n})"

    def __reduce__(self) -> Any:
        return (MultipleReturn, (self.func, self.n))


def multiple_return_get(values: Any, j: int) -> Any:
    """Value j of a multiple-return task."""
    return values[j]


class TakeItems:
    """`TakeItems(items)(value)` is `[value[j] for j in items]`: weft.translate
    calls it around a task whose every reader is `(operator.getitem, task, j)`,
    making the task a multiple-return task of len(items) values."""

    __slots__ = ("items",)

    def __init__(self, items: Any):
        self.items = tuple(items)

    def __call__(self, value: Any) -> list:
        return [value[j] for j in self.items]

    def __repr__(self) -> str:
        return f"TakeItems({list(self.items)!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is TakeItems and other.items == self.items

    def __hash__(self) -> int:
        return hash(("weft.TakeItems", self.items))

    def __reduce__(self) -> Any:
        return (TakeItems, (self.items,))
