"""The messages between the grading process and a submission's process.

Each message is framed on a dedicated pipe (never the submission's stdout or stderr)::

    8 bytes   total length N of what follows (big-endian)
    4 bytes   length J of the JSON header
    J bytes   the header, UTF-8 JSON (an object)
    N-4-J     the raw bytes of the arrays it names, back to back

Values cross as plain data: None, bools, numbers, strings, lists, tuples, dicts with string
keys, arrays (dtype name, shape, raw bytes), JAX keys, dtypes, and ``{"opaque": type name}``
for anything else. Nothing is ever unpickled or evaluated: the grading process treats every
byte from the submission as untrusted, and anything malformed raises :class:`ProtocolError`.
"""

from __future__ import annotations

import builtins
import json
import os
import select
import struct
import time

import numpy as np

#: Largest message the grading process accepts from a submission (bytes).
MAX_MESSAGE = 256 * 2**20
#: Array dtypes that may cross (numpy names; bfloat16 comes from ml_dtypes, as in JAX).
DTYPES = frozenset({
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "bfloat16", "complex64", "complex128",
})
MAX_NESTING, MAX_ITEMS, MAX_TEXT = 8, 10_000, 2_000


class ProtocolError(Exception):
    """A message from the submission's process is malformed or missing."""


def dtype_of(name: str) -> np.dtype:
    """The numpy dtype called ``name`` (one of :data:`DTYPES`)."""
    if name not in DTYPES:
        raise ProtocolError(f"unexpected dtype {name[:40]!r}")
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


# -- framing -----------------------------------------------------------------------------

def send(fd: int, header: dict, blobs=()) -> None:
    """Write one message (``header`` and the byte strings ``blobs``) to ``fd``."""
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode()
    payload = b"".join([struct.pack(">I", len(head)), head, *blobs])
    data = memoryview(struct.pack(">Q", len(payload)) + payload)
    while data:
        data = data[os.write(fd, data):]


def receive(fd: int, deadline: float | None = None, limit: int = MAX_MESSAGE):
    """Read one message from ``fd``: ``(header, blobs)``.

    Raises :class:`TimeoutError` when ``deadline`` (a ``time.monotonic()`` value) passes,
    :class:`EOFError` when the pipe closes before a message starts, and
    :class:`ProtocolError` for anything malformed.
    """
    first = _read(fd, 8, deadline, eof_ok=True)
    if first is None:
        raise EOFError("the submission's process closed its channel")
    (size,) = struct.unpack(">Q", first)
    if not 4 <= size <= limit:
        raise ProtocolError(f"a message of {size} bytes (the limit is {limit})")
    payload = _read(fd, size, deadline)
    (head_size,) = struct.unpack(">I", payload[:4])
    if head_size > size - 4:
        raise ProtocolError("a header longer than its message")
    try:
        header = json.loads(payload[4:4 + head_size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"a header that is not JSON ({type(exc).__name__})") from None
    sizes = header.get("blobs") if isinstance(header, dict) else None
    if not (isinstance(sizes, list) and all(type(s) is int and s >= 0 for s in sizes)
            and sum(sizes) == size - 4 - head_size):
        raise ProtocolError("a message whose parts do not add up")
    blobs, start = [], 4 + head_size
    for n in sizes:
        blobs.append(payload[start:start + n])
        start += n
    return header, blobs


def _read(fd: int, n: int, deadline: float | None, eof_ok: bool = False):
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no answer in time")
        chunk = os.read(fd, min(n - got, 2**20))
        if not chunk:
            if eof_ok and got == 0:
                return None
            raise EOFError("the submission's process closed its channel mid-message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# -- values ------------------------------------------------------------------------------

def encode(value, blobs: list, depth: int = 0):
    """``value`` as JSON-able data; array bytes are appended to ``blobs``."""
    if depth > MAX_NESTING:
        return {"opaque": "nested too deep"}
    if value is None or isinstance(value, (bool, str)):
        return value if not isinstance(value, str) else value[:MAX_TEXT]
    if type(value) is int:
        return value if abs(value) < 2**63 else {"bigint": str(value)[:MAX_TEXT]}
    if type(value) is float:
        return value if np.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        items = [encode(v, blobs, depth + 1) for v in list(value)[:MAX_ITEMS]]
        return items if isinstance(value, list) else {"tuple": items}
    if isinstance(value, dict):
        return {"dict": [[str(k)[:MAX_TEXT], encode(v, blobs, depth + 1)]
                         for k, v in list(value.items())[:MAX_ITEMS]]}
    if isinstance(value, type) or isinstance(value, np.dtype):
        try:
            name = np.dtype(value).name
        except TypeError:
            name = ""
        return {"dtype": name} if name in DTYPES else {"opaque": _type_name(value)}
    kind = _array_kind(value)
    if kind == "key":
        import jax

        value = jax.random.key_data(value)
    if kind is not None:
        arr = np.ascontiguousarray(np.asarray(value))
        if arr.dtype.name not in DTYPES:
            return {"opaque": _type_name(value)}
        blobs.append(arr.tobytes())
        return {"array": arr.dtype.name, "shape": list(arr.shape), "kind": kind,
                "blob": len(blobs) - 1}
    return {"opaque": _type_name(value)}


def _array_kind(value):
    if isinstance(value, np.ndarray):
        return "numpy"
    if isinstance(value, np.generic):
        return "scalar"
    module = type(value).__module__ or ""
    if module.startswith(("jax", "jaxlib")) and hasattr(value, "dtype"):
        import jax

        if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
            return "key"
        return "jax"
    return None


def _type_name(value) -> str:
    return type(value).__name__[:80]


def decode(data, blobs: list, depth: int = 0):
    """The value that :func:`encode` described, rebuilt from plain data and ``blobs``.

    JAX arrays come back as JAX arrays, NumPy arrays as NumPy arrays, anything opaque as an
    instance of a stand-in class of the same name (so a check can say "returned a dict").
    """
    if depth > MAX_NESTING + 1:
        raise ProtocolError("a value nested too deep")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, blobs, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) == 0:
        raise ProtocolError("a value of unknown form")
    if "tuple" in data:
        return tuple(decode(v, blobs, depth + 1) for v in _list(data["tuple"]))
    if "dict" in data:
        return {str(k): decode(v, blobs, depth + 1) for k, v in _pairs(data["dict"])}
    if "bigint" in data:
        return int(str(data["bigint"])[:MAX_TEXT])
    if "float" in data:
        return float(data["float"]) if data["float"] in ("nan", "inf", "-inf") else 0.0
    if "dtype" in data:
        return dtype_of(str(data["dtype"]))
    if "array" in data:
        return _array(data, blobs)
    if "opaque" in data:
        return stand_in(str(data["opaque"]))()
    raise ProtocolError("a value of unknown form")


def _list(value):
    if not isinstance(value, list):
        raise ProtocolError("a value of unknown form")
    return value


def _pairs(value):
    for pair in _list(value):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ProtocolError("a dict of unknown form")
        yield pair


def _array(data: dict, blobs: list):
    dtype = dtype_of(str(data["array"]))
    shape, index = data.get("shape"), data.get("blob")
    if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)
            and len(shape) <= 32 and type(index) is int and 0 <= index < len(blobs)):
        raise ProtocolError("an array of unknown form")
    raw = blobs[index]
    if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(raw):
        raise ProtocolError("an array whose bytes do not match its shape")
    arr = np.frombuffer(raw, dtype).reshape(shape).copy()
    kind = data.get("kind")
    if kind == "scalar":
        return arr[()]
    if kind in ("jax", "key"):
        import jax
        import jax.numpy as jnp

        if kind == "key":
            return jax.random.wrap_key_data(arr)
        return jnp.asarray(arr)
    return arr


_STAND_INS: dict[str, type] = {}


def stand_in(name: str) -> type:
    """A class named ``name`` that stands for a type that cannot cross (e.g. a module)."""
    name = "".join(c for c in name if c.isalnum() or c == "_")[:80] or "object"
    if name not in _STAND_INS:
        _STAND_INS[name] = type(name, (), {"__repr__": lambda self: f"<{name} object>"})
    return _STAND_INS[name]


# -- exceptions --------------------------------------------------------------------------

_BUILTIN_ERRORS = {name: obj for name, obj in vars(builtins).items()
                   if isinstance(obj, type) and issubclass(obj, Exception)}


def encode_error(error: BaseException) -> dict:
    """An exception raised by the submission, as its type's name and its message."""
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - a learner's exception may fail to print
        message = "<the message could not be printed>"
    return {"type": type(error).__name__[:80], "message": message[:MAX_TEXT]}


def decode_error(data) -> Exception:
    """An exception of the same type name and message as the one the submission raised.

    Built-in exception types are rebuilt as themselves (a check tells a ``TypeError`` from a
    ``NotImplementedError``); any other, or one that cannot be built from a message, becomes
    a stand-in ``Exception`` subclass of the same name. ``SystemExit`` and
    ``KeyboardInterrupt`` are never rebuilt as themselves.
    """
    if not (isinstance(data, dict) and isinstance(data.get("type"), str)
            and isinstance(data.get("message"), str)):
        raise ProtocolError("an exception of unknown form")
    name, message = data["type"][:80], data["message"][:MAX_TEXT]
    cls = _BUILTIN_ERRORS.get(name)
    if cls is not None:
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError needs five arguments
            pass
    name = "".join(c for c in name if c.isalnum() or c == "_") or "Exception"
    return type(name, (Exception,), {})(message)
