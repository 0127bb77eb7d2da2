"""weft's Python executor: `python3 -m weft.executor` (docs/executors.md).

A weft worker (Node) starts this process and hands it the tasks that call
Python. Everything on stdin and stdout is frames (a 4-byte big-endian length,
then one MessagePack map): `hello` once, then for each `run` frame of tasks a
`done` frame of results. Each task is a template (an expression of calls,
inputs, literals, lists and maps) evaluated with Dask's semantics: nested calls
run in place, lists are evaluated item by item, literals are passed as they are.
Inputs and results are weft values (weft.codec).

Why it is built the way it is:
- User code may print: Python's stdout and fd 1 are pointed at stderr, and
  frames go to a private duplicate of the real stdout. stdin is moved the same
  way, so a subprocess a task starts cannot read frames.
- The executor dies with its worker (PR_SET_PDEATHSIG on Linux) and exits when
  stdin ends; SIGINT (a Ctrl-C in the worker's terminal) is ignored, the worker
  decides when it stops.
- Thousands of tiny tasks per second: a task costs a template decode (callables
  are unpickled once per process), one call and one encode; a frame is read
  with one readinto and written with one writev, big values as their own
  buffers rather than copied into the frame.
"""
from __future__ import annotations

import functools
import io
import os
import pickle
import signal
import struct
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, Optional

from . import codec
from .hooks import TaskHooks

PROTOCOL = 1
LANG = "python"
# Values at least this big are written from their own buffer, not copied into the frame.
_BIG = 1 << 16
_IOV_MAX = 1024
# The largest frame a worker reads (src/workers/executors/frames.ts MAX_FRAME).
_MAX_FRAME = 2**31 - 1
_OWN_FILES = {os.path.abspath(__file__), os.path.abspath(codec.__file__)}

# Template forms (src/graph/template.ts, docs/executors.md "Templates").
LIT, INPUT, OP, LIST, MAP, FUSED, CALL = range(7)


class UnknownOp(Exception):
    """The template calls something this executor cannot run: a weft op, or another language's callable."""

    def __init__(self, message: str, op: str = ""):
        super().__init__(message)
        self.op = op


class BadReturns(Exception):
    """A task with `returns: k` whose callable did not return k values."""


class _Task:
    """One task's evaluation state: its decoded inputs, and what an error is attributed to."""

    __slots__ = ("inputs", "failed_fn", "failed_key")

    def __init__(self, inputs: list):
        self.inputs = inputs
        self.failed_fn: Any = None  # the innermost callable whose call raised
        self.failed_key: Optional[str] = None  # the innermost fused task it raised in


# ---------------------------------------------------------------- evaluation


def evaluate(t: list, task: _Task) -> Any:
    """The value of template `t`."""
    form = t[0]
    if form == CALL:
        return _call(t, task)
    if form == INPUT:
        return task.inputs[t[1]]
    if form == LIT:
        return t[1]
    if form == LIST:
        return [evaluate(item, task) for item in t[1]]
    if form == MAP:
        return {name: evaluate(v, task) for name, v in zip(t[1], t[2])}
    if form == FUSED:
        try:
            return evaluate(t[2], task)
        except BaseException:
            if task.failed_key is None:
                task.failed_key = t[1]
            raise
    if form == OP:
        raise UnknownOp(f"the weft op {t[1]!r} runs on weft workers, not in a Python executor", str(t[1]))
    raise UnknownOp(f"template form {form!r} is not one this executor knows (protocol {PROTOCOL})")


def _call(t: list, task: _Task) -> Any:
    fn = evaluate(t[1], task)
    if type(fn) is TaskHooks and len(t[2]) == 2:
        return _hooked(fn, t, task)
    args = [evaluate(a, task) for a in t[2]]
    kwargs = {name: evaluate(v, task) for name, v in zip(t[3], t[4])} if t[3] else None
    if type(fn) is codec.Foreign:
        raise UnknownOp(f"{fn.name} is a {fn.lang} callable: it runs in a {fn.lang} executor, not in Python", fn.name)
    try:
        return fn(*args, **kwargs) if kwargs else fn(*args)
    except BaseException:
        if task.failed_fn is None:
            task.failed_fn = fn
        raise


def _hooked(hooks: TaskHooks, t: list, task: _Task) -> Any:
    """A task wrapped in callbacks (weft.hooks): [6, hooks, [key, inner], nil, nil]. The callbacks'
    _pretask runs before anything of the task is evaluated, _posttask after."""
    key = evaluate(t[2][0], task)
    inputs = [task.inputs[slot] for slot in _value_slots(t[2][1], [])]
    try:
        return hooks.run(key, inputs, lambda: evaluate(t[2][1], task))
    except BaseException:
        if task.failed_fn is None:  # a hook raised, not the task's own callable
            task.failed_fn = hooks
        raise


def _value_slots(t: list, out: list) -> list:
    """The input slots a template reads as values, in the order it first reads them: not
    those it only calls (a callable shared by many tasks comes as an input too)."""
    form = t[0]
    if form == INPUT:
        if t[1] not in out:
            out.append(t[1])
    elif form == CALL or form == OP:
        if form == CALL and t[1][0] != INPUT:
            _value_slots(t[1], out)
        for a in t[2]:
            _value_slots(a, out)
        for v in t[4] or ():
            _value_slots(v, out)
    elif form == LIST:
        for item in t[1]:
            _value_slots(item, out)
    elif form == MAP:
        for v in t[2]:
            _value_slots(v, out)
    elif form == FUSED:
        _value_slots(t[2], out)
    return out


def op_name(fn: Any) -> str:
    """What an error calls a callable: its qualified name (a partial's function's, a SubgraphCallable's name)."""
    if fn is None:
        return ""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if type(fn).__name__ == "SubgraphCallable" and isinstance(getattr(fn, "name", None), str):
        return fn.name
    if type(fn) is TaskHooks:
        return "weft hooks"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__qualname__


def _root_callable(t: list, inputs: list) -> Any:
    """The task's outermost callable (through fused tasks), or None for a task that builds a structure."""
    while t[0] == FUSED:
        t = t[2]
    if t[0] != CALL:
        return None
    fn = t[1]
    fn = fn[1] if fn[0] == LIT else inputs[fn[1]] if fn[0] == INPUT else None
    if type(fn) is TaskHooks and len(t[2]) == 2:  # the task inside its callbacks
        return _root_callable(t[2][1], inputs)
    return fn


# ---------------------------------------------------------------- one task


def run_task(spec: dict) -> dict:
    """One task of a run frame: its result entry of the done frame."""
    start = time.perf_counter()
    result = _run(spec)
    result["id"] = spec["id"]
    result["ms"] = (time.perf_counter() - start) * 1000
    return result


def _run(spec: dict) -> dict:
    try:
        template = codec.unpackb(spec["template"])
        inputs = [codec.decode(b) for b in spec["inputs"]]
    except codec.LoadError as e:
        return _error(e.cause, "bad_callable", e.name, message=_load_message(e))
    except Exception as e:
        return _error(e, "bad_callable", "", message=f"cannot decode the task's template or inputs: {e}")
    task = _Task(inputs)
    try:
        value = evaluate(template, task)
    except UnknownOp as e:
        return _error(e, "unknown_op", e.op, task.failed_key)
    except BaseException as e:  # even SystemExit: a task's sys.exit() fails the task, not the executor
        fn = task.failed_fn if task.failed_fn is not None else _root_callable(template, inputs)
        return _error(e, "task_error", op_name(fn), task.failed_key)
    returns = spec.get("returns")
    try:
        if returns is None:
            return {"ok": True, "values": [_stored(value)]}
        _check_returns(value, returns)
        return {"ok": True, "values": [_stored(v) for v in value]}
    except BadReturns as e:
        return _error(e, "bad_returns", op_name(_root_callable(template, inputs)))
    except Exception as e:
        return _error(e, "bad_result", op_name(_root_callable(template, inputs)), message=f"cannot store the task's result: {e}")


def _stored(value: Any) -> Any:
    """The value's stored form: bytes-like, or for a big array a list of its
    parts (header, and a view of the array's own memory: done_frame writes
    them as they are, before the next batch can change the array)."""
    parts = codec.encode_parts(value)
    return parts[0] if len(parts) == 1 else parts


def _check_returns(value: Any, k: int) -> None:
    if isinstance(value, (str, bytes, bytearray, dict)) or not isinstance(value, Sequence):
        raise BadReturns(f"the task has returns={k}: its callable must return a sequence of {k} values, got a {type(value).__qualname__}")
    if len(value) != k:
        raise BadReturns(f"the task has returns={k}: its callable must return a sequence of {k} values, got {len(value)} values")


def _load_message(e: codec.LoadError) -> str:
    cause = e.cause
    if isinstance(cause, ModuleNotFoundError) and cause.name:
        package = cause.name.split(".")[0]
        return (
            f"cannot load {e.name}: it needs the module {cause.name!r}, which this executor's Python "
            f"({sys.executable}) cannot import. Install {package} on the workers."
        )
    return f"cannot load {e.name} in this executor: {type(cause).__name__}: {cause}"


def _error(e: BaseException, code: str, op: str, key: Optional[str] = None, message: Optional[str] = None) -> dict:
    """A failed task's entry. `exception` (the pickled exception, for a client to raise it
    again) only for exceptions of the task's code or weft's codec, never the executor's own."""
    error = {
        "type": type(e).__name__,
        "message": _str(e) if message is None else message,
        "traceback": _traceback(e),
        "code": code,
        "op": op,
    }
    if key is not None:
        error["key"] = key
    pickled = None if isinstance(e, (UnknownOp, BadReturns)) else _pickled(e)
    if pickled is not None:
        error["exception"] = pickled
    return {"ok": False, "error": error}


def _str(e: BaseException) -> str:
    try:
        return str(e)
    except Exception:  # a user exception whose __str__ fails must not take the executor down
        return f"<{type(e).__name__}: str() failed>"


def _traceback(e: BaseException) -> str:
    """The exception's traceback from the first frame that is not the executor's own."""
    tb = e.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) in _OWN_FILES:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(e), e, tb))


def _pickled(e: BaseException) -> Optional[bytes]:
    """The exception as a pickle a client can raise again, or None when it does not survive the round trip."""
    try:
        data = codec.dumps(e)
        pickle.loads(data)
        return data
    except Exception:
        return None


# ---------------------------------------------------------------- frames


def read_frame(stream: io.BufferedReader) -> Optional[dict]:
    """The next frame's message, or None at the end of stdin."""
    head = _read_exact(stream, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n >= _STREAM_FROM:
        return _FrameStream(stream, n).message()
    body = _read_exact(stream, n)
    if body is None:
        raise EOFError(f"stdin ended inside a frame of {n} bytes")
    return codec.unpackb(body)


# A frame this long (inputs of megabytes) is decoded as it is read, each big byte string read straight
# into a buffer of its own: no copy out of the frame, and its data aligned as an array's must be to be
# viewed rather than copied (codec.decode). Smaller frames are read whole and decoded by msgpack.
_STREAM_FROM = 1 << 20


class _FrameStream:
    """Reads one frame's MessagePack value from the stream: maps, arrays,
    strings, numbers, booleans, nil and byte strings (what a worker's run
    frame holds; an extension is decoded as codec.unpackb would)."""

    def __init__(self, stream: io.BufferedReader, n: int):
        self.stream = stream
        self.left = n

    def message(self) -> Any:
        value = self.value()
        if self.left:
            raise ValueError(f"a frame's MessagePack value ended {self.left} bytes before the frame")
        return value

    def read(self, k: int) -> bytes:
        if k > self.left:
            raise ValueError("a frame's MessagePack value runs past the frame's length")
        data = self.stream.read(k)
        if len(data) != k:
            raise EOFError("stdin ended inside a frame")
        self.left -= k
        return data

    def bytes_(self, k: int) -> Any:
        if k < _BIG:
            return self.read(k)
        if k > self.left:
            raise ValueError("a frame's MessagePack value runs past the frame's length")
        view = memoryview(_aligned_buffer(k))
        got = 0
        while got < k:
            r = self.stream.readinto(view[got:])
            if not r:
                raise EOFError("stdin ended inside a frame")
            got += r
        self.left -= k
        return view.toreadonly()

    def value(self) -> Any:
        b = self.read(1)[0]
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if 0x80 <= b <= 0x8F:
            return self.map(b & 0x0F)
        if 0x90 <= b <= 0x9F:
            return [self.value() for _ in range(b & 0x0F)]
        if 0xA0 <= b <= 0xBF:
            return self.read(b & 0x1F).decode()
        if b == 0xC0:
            return None
        if b in (0xC2, 0xC3):
            return b == 0xC3
        if b in _SIZED:
            fmt, kind = _SIZED[b]
            (k,) = struct.unpack(fmt, self.read(struct.calcsize(fmt)))
            if kind == "bin":
                return self.bytes_(k)
            if kind == "str":
                return self.read(k).decode()
            if kind == "array":
                return [self.value() for _ in range(k)]
            if kind == "map":
                return self.map(k)
            return k  # a number
        if b in _EXT:
            fmt, fixed = _EXT[b]
            head = self.read(struct.calcsize(fmt)) if fmt else b""
            k = fixed if fixed is not None else struct.unpack(fmt, head)[0]
            return codec.unpackb(bytes((b,)) + head + self.read(1 + k))
        raise ValueError(f"byte 0x{b:02x} does not start a MessagePack value")

    def map(self, k: int) -> dict:
        out = {}
        for _ in range(k):
            key = self.value()
            out[key] = self.value()
        return out


def _aligned_buffer(k: int) -> Any:
    """k bytes to read into, not zeroed first where numpy is there (its allocations are aligned for
    any dtype); a bytearray (malloc's 16-byte alignment) where it is not."""
    try:
        import numpy as np
    except ImportError:
        return bytearray(k)
    return np.empty(k, dtype=np.uint8)


# MessagePack's formats with a fixed-size field after the first byte: the field, and what it is.
_SIZED = {
    0xC4: (">B", "bin"), 0xC5: (">H", "bin"), 0xC6: (">I", "bin"),
    0xCA: (">f", "number"), 0xCB: (">d", "number"),
    0xCC: (">B", "number"), 0xCD: (">H", "number"), 0xCE: (">I", "number"), 0xCF: (">Q", "number"),
    0xD0: (">b", "number"), 0xD1: (">h", "number"), 0xD2: (">i", "number"), 0xD3: (">q", "number"),
    0xD9: (">B", "str"), 0xDA: (">H", "str"), 0xDB: (">I", "str"),
    0xDC: (">H", "array"), 0xDD: (">I", "array"), 0xDE: (">H", "map"), 0xDF: (">I", "map"),
}
# Extensions: the length field (none for fixext), and the fixed payload length of fixext.
_EXT = {
    0xC7: (">B", None), 0xC8: (">H", None), 0xC9: (">I", None),
    0xD4: ("", 1), 0xD5: ("", 2), 0xD6: ("", 4), 0xD7: ("", 8), 0xD8: ("", 16),
}


def _read_exact(stream: io.BufferedReader, n: int) -> Optional[bytearray]:
    """n bytes, read in place into a new buffer, or None when the stream ends before the first byte."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            if got == 0:
                return None
            raise EOFError(f"stdin ended after {got} of {n} bytes")
        got += k
    return buf


def done_frame(batch: Any, results: list) -> list:
    """The done frame as buffers to write in one writev: small parts packed
    together, each big value its own buffer (never copied into the frame), a
    big array as its header and its own memory (codec.encode_parts)."""
    chunks: list = []
    cur = bytearray(_map_header(3))
    for part in ("t", "done", "batch", batch, "results"):
        cur += codec.packb(part)
    cur += _array_header(len(results))
    for r in results:
        values = r.get("values", ())
        # Values are bin: encode() may give a memoryview, which packb would pickle as a foreign value.
        if all(type(v) is bytes for v in values):
            cur += codec.packb(r)
            continue
        cur += _map_header(len(r))
        for k, v in r.items():
            cur += codec.packb(k)
            if k != "values":
                cur += codec.packb(v)
                continue
            cur += _array_header(len(v))
            for value in v:
                parts = value if type(value) is list else [value]
                cur += _bin_header(sum(len(p) for p in parts))
                for part in parts:
                    if len(part) < _BIG:
                        cur += part
                    else:
                        chunks += [cur, part]
                        cur = bytearray()
    chunks.append(cur)
    size = sum(len(c) for c in chunks)
    if size > _MAX_FRAME:
        raise ValueError(f"a done frame of {size} bytes is over the protocol's limit of {_MAX_FRAME} bytes")
    return [struct.pack(">I", size)] + chunks


def _array_header(n: int) -> bytes:
    return bytes((0x90 | n,)) if n < 16 else struct.pack(">BH", 0xDC, n) if n < 0x10000 else struct.pack(">BI", 0xDD, n)


def _map_header(n: int) -> bytes:
    return bytes((0x80 | n,)) if n < 16 else struct.pack(">BH", 0xDE, n) if n < 0x10000 else struct.pack(">BI", 0xDF, n)


def _bin_header(n: int) -> bytes:
    return bytes((0xC4, n)) if n < 0x100 else struct.pack(">BH", 0xC5, n) if n < 0x10000 else struct.pack(">BI", 0xC6, n)


def write_frame(fd: int, chunks: list) -> None:
    """Writes all chunks with writev, as few calls as the pipe allows."""
    views = [memoryview(c).cast("B") for c in chunks if len(c)]
    while views:
        written = os.writev(fd, views[:_IOV_MAX])
        while written:
            if written >= len(views[0]):
                written -= len(views.pop(0))
            else:
                views[0] = views[0][written:]
                written = 0


def frame(message: dict) -> list:
    data = codec.packb(message)
    return [struct.pack(">I", len(data)), data]


# ---------------------------------------------------------------- the process


def _take_stdio() -> tuple:
    """Private descriptors for the frames; fd 1 (and sys.stdout) become stderr, fd 0 /dev/null."""
    sys.stdout.flush()
    frames_in, frames_out = os.dup(0), os.dup(1)  # not inherited by subprocesses a task starts
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    return frames_in, frames_out


def _widen_socket_buffers(frames_in: int, frames_out: int) -> None:
    """Asks for buffers of 4 MiB where the frames come and go over sockets (Node's stdio pipes
    are Unix sockets, 208 KiB by default): a value of megabytes then goes in fewer turns of
    each side waiting for the other (the worker reads 64 KiB at a time and copies what it has
    read). The kernel caps them at net.core.wmem_max and rmem_max; a pipe or a refusal leaves
    things as they were."""
    import socket

    for fd, option in ((frames_out, socket.SO_SNDBUF), (frames_in, socket.SO_RCVBUF)):
        dup = os.dup(fd)
        try:
            sock = socket.socket(fileno=dup)
        except OSError:  # not a socket
            os.close(dup)
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, 4 << 20)
        except OSError:
            pass
        finally:
            sock.close()


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the worker that started it dies (Linux; elsewhere stdin's end does it)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        return
    if os.getppid() != parent:  # the worker died before prctl took effect
        os._exit(1)


def main() -> int:
    parent = os.getppid()
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    frames_in, frames_out = _take_stdio()
    _widen_socket_buffers(frames_in, frames_out)
    stream = io.open(frames_in, "rb", buffering=1 << 16)
    version = "%d.%d.%d" % sys.version_info[:3]
    try:
        write_frame(frames_out, frame({"t": "hello", "protocol": PROTOCOL, "lang": LANG, "version": version, "pid": os.getpid()}))
        while True:
            message = read_frame(stream)
            if message is None:
                return 0
            if message.get("t") != "run":
                print(f"weft.executor: ignoring a {message.get('t')!r} frame", file=sys.stderr)
                continue
            results = [run_task(spec) for spec in message["tasks"]]
            write_frame(frames_out, done_frame(message.get("batch"), results))
    except (BrokenPipeError, EOFError) as e:
        print(f"weft.executor: the worker went away ({e})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
