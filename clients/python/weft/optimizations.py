"""weft.dataframe_optimize: Dask's task-based shuffle as one stage of multiple-return tasks.

    with dask.config.set(scheduler=client.get, dataframe_optimize=weft.dataframe_optimize):
        df.set_index("age", shuffle="tasks", max_branch=float("inf")).head(10, npartitions=-1)

A single-stage task shuffle (dask.dataframe.shuffle.SimpleShuffleLayer: what
shuffle="tasks" builds when npartitions <= max_branch) is, per input
partition p, a `shuffle_group` task that splits it into one part per output,
n x k `getitem(parts, j)` tasks, and per output j a concat of part j of every
input. This optimizer rewrites each such layer (as Ray's dataframe_optimize
does) so that the split is a multiple-return task, `(MultipleReturn(
shuffle_group, k), ...)`, and the getitems `(multiple_return_get, split, j)`:
weft runs the split once with `"returns": k`, storing each part as its own
object, and each concat reads `{"$ref": split, "index": j}`, only part j
(weft.translate). The getitems never run, and each part is read once.
Then Dask's own dataframe optimizations run as usual.

The rewritten graph computes the same values under any Dask scheduler (the
split returns a list, the getitems index it), so the option may stay set.
"""
from __future__ import annotations

from typing import Any

from dask.dataframe.core import _concat
from dask.dataframe.optimize import optimize
from dask.dataframe.shuffle import SimpleShuffleLayer, shuffle_group
from dask.highlevelgraph import HighLevelGraph

from .multireturn import MultipleReturn, multiple_return_get

__all__ = ["MultipleReturnShuffleLayer", "dataframe_optimize"]


class MultipleReturnShuffleLayer(SimpleShuffleLayer):
    """A SimpleShuffleLayer whose splits are multiple-return tasks."""

    @classmethod
    def of(cls, layer: SimpleShuffleLayer) -> "MultipleReturnShuffleLayer":
        return cls(
            layer.name,
            layer.column,
            layer.npartitions,
            layer.npartitions_input,
            layer.ignore_index,
            layer.name_input,
            layer.meta_input,
            parts_out=layer.parts_out,
            annotations=layer.annotations,
        )

    def __repr__(self) -> str:
        return f"MultipleReturnShuffleLayer<name='{self.name}', npartitions={self.npartitions}>"

    def _cull(self, parts_out: Any) -> "MultipleReturnShuffleLayer":
        return MultipleReturnShuffleLayer(
            self.name,
            self.column,
            self.npartitions,
            self.npartitions_input,
            self.ignore_index,
            self.name_input,
            self.meta_input,
            parts_out=parts_out,
        )

    def __reduce__(self) -> Any:
        attrs = ("name", "column", "npartitions", "npartitions_input", "ignore_index", "name_input", "meta_input", "parts_out", "annotations")
        return (MultipleReturnShuffleLayer, tuple(getattr(self, a) for a in attrs))

    def _construct_graph(self, deserializing: bool = False) -> dict:
        group = "group-" + self.name
        k = self.npartitions
        # Every split returns all k parts (shuffle_group's dict has them all),
        # whichever outputs were culled: part j is value j.
        split = MultipleReturn(shuffle_group, k)
        dsk: dict = {}
        for p in range(self.npartitions_input):
            dsk[(group, p)] = (split, (self.name_input, p), self.column, 0, k, k, self.ignore_index, k)
        for j in self.parts_out:
            parts = [(self.split_name, j, p) for p in range(self.npartitions_input)]
            dsk[(self.name, j)] = (_concat, parts, self.ignore_index)
            for p in range(self.npartitions_input):
                dsk[(self.split_name, j, p)] = (multiple_return_get, (group, p), j)
        return dsk


def rewrite_shuffles(dsk: Any) -> HighLevelGraph:
    """`dsk` (a HighLevelGraph, or a dict) with each SimpleShuffleLayer as a MultipleReturnShuffleLayer."""
    if not isinstance(dsk, HighLevelGraph):
        return HighLevelGraph.from_collections(str(id(dsk)), dsk, dependencies=())
    if not any(type(layer) is SimpleShuffleLayer for layer in dsk.layers.values()):
        return dsk
    layers = {name: MultipleReturnShuffleLayer.of(layer) if type(layer) is SimpleShuffleLayer else layer for name, layer in dsk.layers.items()}
    return HighLevelGraph(layers, dsk.dependencies, dsk.key_dependencies)


def dataframe_optimize(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    """Dask's dataframe optimization with task shuffles as multiple-return tasks
    (for dask.config.set(dataframe_optimize=weft.dataframe_optimize))."""
    return optimize(rewrite_shuffles(dsk), keys, **kwargs)
