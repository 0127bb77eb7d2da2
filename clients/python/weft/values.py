"""What graphs hold besides Dask's own values: weft op stubs and object refs.

Standard library only (the executor imports the package).
"""
from __future__ import annotations

from typing import Any, Optional


class Op:
    """A weft op by name (a TypeScript op the workers run); use it in tasks or dask.delayed."""

    def __init__(self, name: str):
        self.name = name
        self.__name__ = name.replace(".", "_")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"weft op {self.name!r} runs on a weft worker: use it in a graph (dask.delayed, or a task tuple)")

    def __repr__(self) -> str:
        return f"weft.ops[{self.name!r}]"

    def __eq__(self, other: object) -> bool:
        return type(other) is Op and other.name == self.name

    def __hash__(self) -> int:
        return hash(("weft.Op", self.name))

    def __reduce__(self) -> Any:
        return (Op, (self.name,))


class _Ops:
    """`ops.add`, `ops["my.op"]`: stubs of the ops workers run (GET /v1/ops lists them)."""

    def __getattr__(self, name: str) -> Op:
        if name.startswith("__"):
            raise AttributeError(name)
        return Op(name)

    def __getitem__(self, name: str) -> Op:
        return Op(name)


ops = _Ops()


class ObjectRef:
    """A stored object (a future): pass it in later graphs; `client.fetch(ref)` gets its value.

    A ref made by dask.persist through weft (or `client.persist(..., owned=True)`)
    owns its object: the object is released when the last copy of the ref is
    garbage collected, or by `client.release(ref)`. Copies of a ref are the
    ref itself (copy and deepcopy return it), so a collection's graph copied
    by Dask keeps it alive."""

    __slots__ = ("oid", "_finalizer", "__weakref__")

    def __init__(self, oid: str):
        self.oid = oid
        self._finalizer: Optional[Any] = None

    def __repr__(self) -> str:
        return f"ObjectRef({self.oid!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and other.oid == self.oid

    def __hash__(self) -> int:
        return hash(self.oid)

    def __copy__(self) -> "ObjectRef":
        return self

    def __deepcopy__(self, memo: Any) -> "ObjectRef":
        return self

    def __reduce__(self) -> Any:
        # A pickled ref names the object but does not own it.
        return (ObjectRef, (self.oid,))
