"""Dask graphs as weft graphs (docs/graph-format.md), with Dask's semantics.

A Dask graph maps keys to values that the scheduler evaluates as
dask.core._execute_task does:
- a task, a tuple whose first element is callable, is a call: its arguments
  are evaluated, its callable is not;
- a list is evaluated item by item;
- a hashable value that is a key of the graph is that key's value;
- anything else (a tuple that is not a task, a dict, a set, a slice, a numpy
  array, a dtype, a class) is a literal, passed as it is.

In weft's graph that is:
- a Python callable: {"$call": <foreign value>, "args": [...]}, run by a
  Python executor (docs/executors.md). `weft.ops.<name>` stubs stay weft ops,
  {"$op": name, ...}, so a graph may mix TypeScript and Python tasks. A Python
  callable always runs as Python, even one named like a weft op (inc,
  operator.add, sum): only weft.ops names weft ops;
- `dask.utils.apply(f, args, kwargs)`: a call of f with keyword arguments
  ("kwargs") when args is a list and kwargs a dict (or dask.delayed's
  `(dict, [[k, v], ...])`); other forms call `apply` itself;
- a list: an array (each item a node);
- a reference: {"$ref": name}, tuple keys named by weft.keys;
- literals: plain MessagePack when they are exactly plain data (None, bool,
  64-bit int, float, str, bytes, lists and str-keyed dicts of those), array
  chunks for numpy arrays of weft's dtypes, foreign values (pickles, ext 0x50)
  for everything else; a plain dict with keys starting with "$" is wrapped in
  {"$literal": ...};
- an ObjectRef: {"$oid": id}.

Floats for Python that Node would not give back as the same float are sent
as foreign values (a pickle of the float), not as MessagePack floats: the API
decodes a MessagePack request into JavaScript values, where 68.0 and 68 are
one number, and writes the graph's literals (a task's template, a data key's
value) again, so an integral float (68.0), -0.0 and, by their bits, NaN and
the infinities would reach the executor as an int or another float. Dask
passes 68.0 to the task, and some results depend on it (a float's dtype, an
integer division). A finite non-integral float is a float64 on both sides and
goes as it is. This holds for literals inside Python tasks and for data keys
(also inside lists and dicts, which are then pickled whole); the arguments of
weft ops, and data keys a weft op reads, stay plain numbers, which is what
TypeScript reads. Results are not affected: executors' bytes pass through
Node untouched.

A top-level list that references keys or holds tasks is, in a graph with
Python tasks, a call of `list` in a Python executor, so it is evaluated and
assembled with Python's semantics; in a graph of weft ops only it stays a weft
array (and needs no Python).

Every callable and every non-plain literal is pickled once per translation
(by object identity). One that appears in several places and whose pickle is
at least SHARE_BYTES long (a blockwise-fused function in every chunk's task, a
dataframe's meta) is stored once, as a data key of its own named
"\\x01weft:<n>" (SHARED_PREFIX), and the tasks refer to it: {"$call": {"$ref":
key}} or {"$ref": key}. Smaller ones are written in place: an extra input read
per task would cost more than their bytes.

dataframe_optimize's multiple-return tasks (weft.multireturn) become weft
multiple-return tasks ("returns": k), and their getitems {"$ref": key, "index": j}.

Any Python task T that is not requested (nor given by a presubmit hook) and
whose every reader is exactly `(operator.getitem, T, j)` with a hashable
literal j becomes one the same way (make_splits; on unless
translate(multiple_returns=False), Client(multiple_returns=False), and off
with in-executor callbacks, which see each Dask task's own value). This is
Dask's task-based shuffle (`shuffle_group` returns a dict of k parts, then n x k
getitems each read their split's whole output to keep one part), and any
other task whose value is only ever indexed: T runs as
`TakeItems(items)(T's call)` with `"returns": len(items)`, the distinct items
read in their first-read order, each stored as its own object; each getitem,
and every reference to one, is `{"$ref": T, "index": position}`, which reads
only that object, so the getitems never run. The values are the same: a
getitem requested is its item.
"""
from __future__ import annotations

import math
import operator
import pickle
import sys
from typing import Any, Dict, Hashable, List, Mapping, Optional, Tuple

import msgpack

from . import codec
from .codec import Foreign, _name_of
from .keys import key_name
from .multireturn import MultipleReturn, TakeItems, multiple_return_get
from .values import ObjectRef, Op

__all__ = ["SHARED_PREFIX", "SHARE_BYTES", "Translation", "pickled", "translate"]

# Keys of the data a translation adds (shared callables and literals). A Dask
# key that would be sent with this prefix is refused rather than mixed up.
SHARED_PREFIX = "\u0001weft:"
SHARE_BYTES = 128

_INT64_MIN, _INT64_END = -(2**63), 2**63
# Values made only of these are pickled with the standard pickle (several
# times faster than cloudpickle for small values, and the same bytes).
_BUILTIN_LEAVES = frozenset([type(None), bool, int, float, complex, str, bytes, type(Ellipsis), range])
_BUILTIN_CONTAINERS = frozenset([tuple, list, set, frozenset])


def _is_task(x: Any) -> bool:
    return type(x) is tuple and len(x) > 0 and callable(x[0])


def _node_keeps(f: float) -> bool:
    """Whether a float literal comes back from Node as the same Python float.

    The API decodes a MessagePack request into JavaScript values, where 68.0
    and 68 are one number, and writes the graph's literals again: an integral
    float becomes an integer (msgpackr writes integral numbers as ints), and
    so does -0.0 (as 0); NaN and the infinities keep their value but not
    necessarily their bits. A finite, non-integral float is a float64 on both
    sides and comes back exactly."""
    return math.isfinite(f) and f != math.floor(f)


def _is_plain(x: Any, depth: int = 0, exact: bool = True) -> bool:
    """Exactly plain data, read the same by every language, with no `$` keys (weft reads those as markers).
    With `exact` (a value for Python), only floats Node writes back as the same float (_node_keeps)."""
    t = type(x)
    if t is str or t is bool or x is None or t is bytes:
        return True
    if t is float:
        return not exact or _node_keeps(x)
    if t is int:
        return _INT64_MIN <= x < _INT64_END
    if depth > 32:
        return False
    if t is list:
        return all(_is_plain(i, depth + 1, exact) for i in x)
    if t is dict:
        return all(type(k) is str and k[:1] != "$" and _is_plain(v, depth + 1, exact) for k, v in x.items())
    return False


def _is_json(x: Any, depth: int = 0, exact: bool = True) -> bool:
    t = type(x)
    if t is str or t is bool or x is None:
        return True
    if t is float:
        return not exact or _node_keeps(x)
    if t is int:
        return _INT64_MIN <= x < _INT64_END
    if depth > 32:
        return False
    if t is list:
        return all(_is_json(i, depth + 1, exact) for i in x)
    if t is dict:
        return all(type(k) is str and _is_json(v, depth + 1, exact) for k, v in x.items())
    return False


def _builtin_only(x: Any, depth: int = 0) -> bool:
    t = type(x)
    if t in _BUILTIN_LEAVES:
        return True
    if depth > 16:
        return False
    if t in _BUILTIN_CONTAINERS:
        return all(_builtin_only(i, depth + 1) for i in x)
    if t is dict:
        return all(_builtin_only(k, depth + 1) and _builtin_only(v, depth + 1) for k, v in x.items())
    if t is slice:
        return _builtin_only(x.start, depth + 1) and _builtin_only(x.stop, depth + 1) and _builtin_only(x.step, depth + 1)
    return False


def pickled(obj: Any) -> bytes:
    """obj's pickle (protocol 5): the standard pickle for builtin-only data, codec.dumps otherwise
    (the standard pickle where it pickles by reference what the workers can import, cloudpickle
    for functions and classes of __main__, lambdas and local functions, by value)."""
    if _builtin_only(obj):
        return pickle.dumps(obj, protocol=5)
    try:
        return codec.dumps(obj)
    except Exception as e:
        raise TypeError(f"weft cannot send {_describe(obj)}: it cannot be pickled ({type(e).__name__}: {e})") from e


def _describe(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 120 else text[:117] + "..."


class _Shared:
    """One callable or literal, encoded once; whether it is written in place or
    as a data key is decided when the whole graph is known (at packing)."""

    __slots__ = ("obj", "value", "size", "uses", "name")

    def __init__(self, obj: Any, value: Any, size: int):
        self.obj = obj  # kept alive, so its id is not reused during the translation
        self.value = value  # what is written in place: a Foreign, or a numpy array
        self.size = size
        self.uses = 0
        self.name: Optional[str] = None  # the data key, when it has one


class _Slot:
    """Where a shared value is used: packed as the value, or as {"$ref": its data key}."""

    __slots__ = ("shared",)

    def __init__(self, shared: _Shared):
        shared.uses += 1
        self.shared = shared


class Translation:
    """A Dask graph translated: `graph` maps weft keys to nodes (with shared
    values as slots until packed), `python` says whether a task calls Python.
    `packb(request)` is the MessagePack request body holding the graph."""

    def __init__(self, graph: Dict[str, Any], python: bool, shared: List[_Shared], names: Optional[Dict[Hashable, str]] = None):
        self.graph = graph
        self.python = python
        self.names = names if names is not None else {}
        self.shared_data: Dict[str, Any] = {}
        n = 0
        for entry in shared:
            if entry.name is None and entry.uses > 1 and entry.size >= SHARE_BYTES:
                entry.name = f"{SHARED_PREFIX}{n}"
                n += 1
            if entry.name is not None:
                self.shared_data[entry.name] = entry.value
        graph.update(self.shared_data)

    def key_name(self, key: Hashable) -> str:
        """The weft name of the graph's key equal to `key` (a requested key may hold numpy integers)."""
        name = self.names.get(key)
        return name if name is not None else key_name(key)

    def packb(self, request: dict) -> bytes:
        """The request (holding this translation's graph) as MessagePack, values in weft's encoding."""
        return msgpack.Packer(default=_default, use_bin_type=True, strict_types=True).pack(request)


def _default(obj: Any) -> Any:
    if type(obj) is _Slot:
        shared = obj.shared
        # The packer does not call default again on what default returns: the extension itself.
        return {"$ref": shared.name} if shared.name is not None else codec._default(shared.value)
    return codec._default(obj)


class _Translator:
    def __init__(self, dsk: Mapping):
        self.dsk = dsk
        self.shared: Dict[int, _Shared] = {}
        self.python = False
        utils = sys.modules.get("dask.utils")
        self.apply = getattr(utils, "apply", None) if utils is not None else None
        self.returns: Dict[Hashable, int] = {}  # keys of multiple-return tasks, and their k
        self.np = sys.modules.get("numpy")
        # Each key's weft name, found by equality: a reference may be a tuple equal to the graph's
        # key but not the same (('x', np.int64(0)) for ('x', 0)); it is named as the graph's key.
        self.names: Dict[Hashable, str] = {}
        # Whether literals are for Python (floats Node would write back as ints are pickled,
        # see _node_keeps) or for a weft op (plain numbers, what TypeScript reads).
        self.exact = True
        self.op_inputs: set = set()  # keys weft ops' tasks read
        # Tasks read only through (operator.getitem, task, j) (find_splits): the getitem keys
        # and what they pick, how often each split is referenced, and the reference nodes
        # made for each getitem key (rewritten in place when its split becomes multiple-return).
        self.picks: Dict[Hashable, Tuple[Hashable, Any]] = {}
        self.split_refs: Dict[Hashable, int] = {}
        self.pick_refs: Dict[Hashable, List[dict]] = {}
        self.takes: Dict[tuple, _Shared] = {}

    # -- keys and references

    def is_key(self, x: Any) -> bool:
        try:
            return x in self.dsk
        except TypeError:  # unhashable
            return False

    def ref(self, key: Hashable) -> dict:
        target = self.dsk[key]
        if type(target) is ObjectRef:
            # A persisted value: read the object itself (a top-level {"$oid"} is a task that copies it).
            return {"$oid": target.oid}
        if self.returns:
            picked = self.picked_output(self.dsk[key])
            if picked is not None:
                return picked
        node = {"$ref": self.name(key)}
        if self.picks:
            if key in self.split_refs:
                self.split_refs[key] += 1
            elif key in self.picks:
                self.pick_refs[key].append(node)
        return node

    def name(self, key: Hashable) -> str:
        """The weft name of the graph's key equal to `key`."""
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = key_name(key)
        return name

    def picked_output(self, value: Any) -> Optional[dict]:
        """{"$ref": key, "index": j} for (multiple_return_get, key, j) over a multiple-return task."""
        if type(value) is tuple and len(value) == 3 and value[0] is multiple_return_get:
            source, j = value[1], value[2]
            if self.is_key(source) and source in self.returns and type(j) is int and 0 <= j < self.returns[source]:
                return {"$ref": self.name(source), "index": j}
        return None

    # -- shared values

    def foreign(self, obj: Any) -> _Slot:
        entry = self.shared.get(id(obj))
        if entry is None:
            data = pickled(obj)
            entry = _Shared(obj, Foreign("python", _name_of(obj), data), len(data))
            self.shared[id(obj)] = entry
        return _Slot(entry)

    def array(self, a: Any) -> _Slot:
        entry = self.shared.get(id(a))
        if entry is None:
            entry = _Shared(a, a, a.nbytes)
            self.shared[id(a)] = entry
        return _Slot(entry)

    def callable(self, fn: Any) -> _Slot:
        self.python = True
        return self.foreign(fn)

    # -- nodes

    def literal(self, x: Any) -> Any:
        """A value passed as it is (never read for references)."""
        if _is_plain(x, 0, self.exact):
            return x
        t = type(x)
        if t is ObjectRef:
            return {"$oid": x.oid}
        if t is dict and _is_json(x, 0, self.exact):
            return {"$literal": x}
        if self.np is not None and t is self.np.ndarray and x.dtype.name in codec.DTYPES:
            return self.array(x)
        return self.foreign(x)

    def node(self, x: Any) -> Any:
        """A value as Dask's _execute_task evaluates it."""
        if type(x) is tuple and x and callable(x[0]):
            return self.task(x)
        if isinstance(x, list):
            return [self.node(i) for i in x]
        if self.is_key(x):
            return self.ref(x)
        return self.literal(x)

    def task(self, x: tuple, top_key: Any = None) -> Any:
        fn = x[0]
        if type(fn) is Op:
            self.op_reads(x[1:])
            return {"$op": fn.name, "args": self.for_op(lambda: [self.node(a) for a in x[1:]])}
        if fn is self.apply and self.apply is not None and len(x) in (3, 4):
            call = self.applied(x[1:])
            if call is not None:
                return call
        if fn is multiple_return_get and len(x) == 3 and self.returns:
            picked = self.picked_output(x)
            if picked is not None:
                return picked
        node: Dict[str, Any] = {"$call": self.callable(fn), "args": [self.node(a) for a in x[1:]]}
        if top_key is not None and type(fn) is MultipleReturn and self.returns.get(top_key) == fn.n:
            node["returns"] = fn.n
        return node

    def for_op(self, make: Any) -> Any:
        """make() with literals for a weft op: plain numbers, as TypeScript reads them."""
        exact, self.exact = self.exact, False
        try:
            return make()
        finally:
            self.exact = exact

    def data(self, key: Hashable, x: Any, make: Any = None) -> Any:
        """A data key's value (or make()'s, a top-level list): for Python unless a weft op
        reads it (translate() translates the tasks first, so op_inputs knows)."""
        if make is None:
            make = lambda: self.literal(x)  # noqa: E731
        return self.for_op(make) if key in self.op_inputs else make()

    def op_reads(self, args: Any) -> None:
        """A weft op's arguments: the keys they read are data for TypeScript."""
        self.op_inputs.update(_references(list(args), self.dsk))

    def applied(self, args: tuple) -> Optional[dict]:
        """dask.utils.apply(func, args[, kwargs]) as a call with keyword arguments when its
        arguments have a form that names them; None to call `apply` itself."""
        func, fargs = args[0], args[1]
        kwargs = args[2] if len(args) == 3 else {}
        if not callable(func) or _is_task(func) or self.is_key(func):
            return None
        literal_args = type(fargs) is tuple and not _is_task(fargs) and not self.is_key(fargs)
        if not (isinstance(fargs, list) or literal_args):
            return None
        pairs = None
        if type(kwargs) is dict and not self.is_key(kwargs):
            if not all(type(k) is str and k[:1] != "$" for k in kwargs):
                return None
        elif _is_task(kwargs) and kwargs[0] is dict and len(kwargs) == 2 and isinstance(kwargs[1], list):
            pairs = kwargs[1]
            if not all(isinstance(p, list) and len(p) == 2 and type(p[0]) is str and p[0][:1] != "$" and not self.is_key(p[0]) for p in pairs):
                return None
        else:
            return None
        # A literal tuple of arguments and a literal dict are passed as they are: not evaluated.
        def nodes() -> tuple:
            arg_nodes = [self.literal(a) for a in fargs] if literal_args else [self.node(a) for a in fargs]
            kw = {k: self.node(v) for k, v in pairs} if pairs is not None else {k: self.literal(v) for k, v in kwargs.items()}
            return arg_nodes, kw

        if type(func) is Op:
            self.op_reads([fargs, kwargs])
            arg_nodes, kw = self.for_op(nodes)
        else:
            arg_nodes, kw = nodes()
        if type(func) is Op:
            node: Dict[str, Any] = {"$op": func.name, "args": arg_nodes}
        else:
            node = {"$call": self.callable(func), "args": arg_nodes}
        if kw:
            node["kwargs"] = kw
        return node

    def top(self, key: Hashable, x: Any) -> Tuple[Any, bool]:
        """A top-level node, and whether it is a list that must be evaluated (it holds references or tasks)."""
        if type(x) is tuple and x and callable(x[0]):
            return self.task(x, key), False
        if type(x) is ObjectRef:
            return {"$oid": x.oid}, False
        if isinstance(x, list):
            items = self.data(key, x, lambda: [self.node(i) for i in x])
            return items, _has_work(items)
        if self.is_key(x):
            return self.ref(x), False
        return self.data(key, x), False

    def find_splits(self, requested: Any, known: Mapping) -> None:
        """Getitem tasks `(operator.getitem, T, j)` (j a hashable literal) over Python tasks T that
        are not requested nor known: candidates for make_splits, which keeps those T whose every
        reference is such a getitem."""
        for key, v in self.dsk.items():
            if type(v) is tuple and len(v) == 3 and v[0] is operator.getitem and self.is_key(v[1]):
                j = v[2]
                try:
                    hash(j)
                except TypeError:
                    continue
                if _is_task(j) or self.is_key(j):
                    continue
                source = v[1]
                target = self.dsk[source]
                if not _is_task(target) or type(target[0]) is Op or type(target[0]) is MultipleReturn or source in known or source in requested:
                    continue
                self.picks[key] = (source, j)
                self.pick_refs[key] = []
                self.split_refs[source] = 0

    def make_splits(self, graph: Dict[str, Any], nodes: Dict[Hashable, Any], calls: List[str]) -> None:
        """Each split whose every reference is one of its getitems becomes a multiple-return task
        ("returns": k, the task's value wrapped in TakeItems of the k items read), and each of its
        getitems, and every reference to one, {"$ref": split, "index": position}: the getitems never run."""
        by_split: Dict[Hashable, List[Hashable]] = {}
        for key, (source, _) in self.picks.items():
            by_split.setdefault(source, []).append(key)
        dropped: set = set()
        for source, getters in by_split.items():
            node = nodes.get(source)
            # Each getitem's own task referenced the split once; any other reference reads it whole.
            if self.split_refs[source] != len(getters) or type(node) is not dict or "$call" not in node or "returns" in node:
                continue
            positions: Dict[Any, int] = {}
            for g in getters:
                positions.setdefault(self.picks[g][1], len(positions))
            items = tuple(positions)
            entry = self.takes.get(items)
            if entry is None:
                entry = self.takes[items] = self.foreign(TakeItems(items)).shared
                entry.uses -= 1
            split = self.name(source)
            graph[split] = {"$call": _Slot(entry), "args": [node], "returns": len(items)}
            for g in getters:
                picked = {"$ref": split, "index": positions[self.picks[g][1]]}
                graph[self.name(g)] = dict(picked)
                dropped.add(self.name(g))
                for ref in self.pick_refs[g]:
                    ref.update(picked)
        if dropped:
            calls[:] = [c for c in calls if c not in dropped]

    def find_multiple_returns(self) -> None:
        """Keys whose task is a MultipleReturn that every reader reads through (multiple_return_get, key, j)."""
        candidates = {k: v[0].n for k, v in self.dsk.items() if type(v) is tuple and v and type(v[0]) is MultipleReturn}
        if not candidates:
            return
        ok = dict.fromkeys(candidates, True)
        for v in self.dsk.values():
            if type(v) is tuple and len(v) == 3 and v[0] is multiple_return_get and self.is_key(v[1]) and v[1] in candidates:
                if not (type(v[2]) is int and 0 <= v[2] < candidates[v[1]]):
                    ok[v[1]] = False
                continue
            for k in _references(v, self.dsk):
                if k in candidates:
                    ok[k] = False
        self.returns = {k: n for k, n in candidates.items() if ok[k]}


def _has_work(node: Any) -> bool:
    """Does a translated node hold a reference or a task (so it must be evaluated)?"""
    if type(node) is list:
        return any(_has_work(i) for i in node)
    if type(node) is dict:
        return "$ref" in node or "$call" in node or "$op" in node or "$oid" in node
    return False


def _references(x: Any, dsk: Mapping) -> List[Hashable]:
    """Keys a value reads, as Dask finds them (dask.core.keys_in_tasks)."""
    out: List[Hashable] = []
    work = [x]
    while work:
        w = work.pop()
        t = type(w)
        if t is tuple and w and callable(w[0]):
            work.extend(w[1:])
        elif t is list:
            work.extend(w)
        elif t is dict:
            work.extend(w.values())
        else:
            try:
                if w in dsk:
                    out.append(w)
            except TypeError:
                pass
    return out


def _flat(keys: Any) -> List[Hashable]:
    """The keys of Dask's nested lists of keys."""
    out: List[Hashable] = []
    work = [keys]
    while work:
        k = work.pop()
        if isinstance(k, list):
            work.extend(k)
        else:
            out.append(k)
    return out


def _stage(key: Hashable, value: Any, known: Mapping) -> int:
    if key in known:
        return 2
    if type(value) is tuple and value and callable(value[0]):
        return 0
    return 1 if isinstance(value, list) else 2


def translate(dsk: Mapping, known: Optional[Mapping] = None, hooks: Any = None, keys: Any = None, multiple_returns: bool = True) -> Translation:
    """weft's graph for the Dask graph `dsk` (a dict). `known` maps keys to
    values given in place of their tasks (a presubmit hook's answers): data,
    never read for references. `hooks`, a weft.hooks.TaskHooks, wraps every
    top-level Python task so the executor runs its callbacks around it.
    `keys`, the requested keys (nested lists as Dask's get takes them): with
    them and `multiple_returns`, a task read only through getitems of
    literal items becomes a multiple-return task (make_splits); without hooks only,
    since the callbacks see each Dask task's own value."""
    t = _Translator(dsk)
    t.find_multiple_returns()
    known = known or {}
    if multiple_returns and keys is not None and hooks is None:
        t.find_splits(set(_flat(keys)), known)
    graph: Dict[str, Any] = {}
    lists: List[str] = []
    calls: List[str] = []
    for key in dsk:
        if t.name(key).startswith(SHARED_PREFIX):
            raise ValueError(f"the key {key!r} starts with {SHARED_PREFIX!r}, which weft keeps for its own data keys")
    # Tasks first, then lists, then data: a data key's literals depend on whether a weft op reads it.
    nodes: Dict[Hashable, Any] = {}
    stages: Tuple[list, list, list] = ([], [], [])
    for key, value in dsk.items():
        stages[_stage(key, value, known)].append((key, value))
    for stage in stages:
        for key, value in stage:
            if key in known:
                nodes[key] = t.data(key, known[key])
                continue
            node, is_list = t.top(key, value)
            nodes[key] = node
            if is_list:
                lists.append(t.names[key])
            elif type(node) is dict and "$call" in node:
                calls.append(t.names[key])
    for key in dsk:
        graph[t.names[key]] = nodes[key]
    if t.picks:
        t.make_splits(graph, nodes, calls)
    if t.python and lists:
        make_list = t.callable(list).shared
        for name in lists:
            graph[name] = {"$call": _Slot(make_list), "args": [graph[name]]}
    if hooks is not None and calls:
        entry = t.foreign(hooks).shared
        entry.uses -= 1  # counted below, once per task
        entry.name = f"{SHARED_PREFIX}hooks"
        for name in calls:
            node = graph[name]
            wrapped: Dict[str, Any] = {"$call": _Slot(entry), "args": [name, node]}
            if "returns" in node:
                wrapped["returns"] = node.pop("returns")
            graph[name] = wrapped
    return Translation(graph, t.python, list(t.shared.values()), t.names)
