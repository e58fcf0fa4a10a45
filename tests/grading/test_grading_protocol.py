"""The grading channel, the answer-key stub and the sandbox's command, without a submission."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import struct
import time

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from initcourse.grading import protocol, runner, sandbox


@pytest.fixture
def pipe():
    read, write = os.pipe()
    yield read, write
    for fd in (read, write):
        try:
            os.close(fd)
        except OSError:
            pass


def _roundtrip(value, pipe):
    blobs: list = []
    protocol.send(pipe[1], {"op": "x", "value": protocol.encode(value, blobs)}, blobs)
    header, blobs = protocol.receive(pipe[0], time.monotonic() + 5)
    return protocol.decode(header["value"], blobs)


def test_arrays_keys_and_containers_cross_unchanged(pipe):
    key = jax.random.key(3)
    value = (jnp.arange(4.0), np.ones((2, 3), ml_dtypes.bfloat16), np.float32(2.5),
             [1, 2.0, None, True, "text"], {"params": {"kernel": np.eye(2)}}, key,
             jax.random.PRNGKey(1), jnp.float32, 10**30, float("nan"))
    got = _roundtrip(value, pipe)
    assert isinstance(got, tuple) and len(got) == len(value)
    assert isinstance(got[0], jax.Array) and got[0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert isinstance(got[1], np.ndarray) and got[1].dtype == ml_dtypes.bfloat16
    assert got[2] == np.float32(2.5) and got[2].dtype == np.float32
    assert got[3] == [1, 2.0, None, True, "text"]
    assert np.array_equal(got[4]["params"]["kernel"], np.eye(2))
    assert jax.dtypes.issubdtype(got[5].dtype, jax.dtypes.prng_key)
    assert np.array_equal(jax.random.key_data(got[5]), jax.random.key_data(key))
    assert np.array_equal(got[6], jax.random.PRNGKey(1)) and got[6].dtype == jnp.uint32
    assert got[7] == np.dtype("float32") and got[8] == 10**30 and np.isnan(got[9])


def test_what_cannot_cross_arrives_as_a_stand_in_of_the_same_name(pipe):
    got = _roundtrip([os, object(), np.array(["a"])], pipe)
    assert [type(v).__name__ for v in got] == ["module", "object", "ndarray"]


@pytest.mark.parametrize("raw, error", [
    (struct.pack(">Q", 2**40), "a message of 1099511627776 bytes"),
    (struct.pack(">Q", 6) + struct.pack(">I", 2) + b"{]", "not JSON"),
    (struct.pack(">Q", 6) + struct.pack(">I", 9) + b"{}", "longer than its message"),
    (struct.pack(">Q", 6) + struct.pack(">I", 2) + b"{}", "do not add up"),
])
def test_malformed_messages_are_refused(pipe, raw, error):
    os.write(pipe[1], raw)
    with pytest.raises(protocol.ProtocolError, match=error):
        protocol.receive(pipe[0], time.monotonic() + 2)


def test_a_message_cut_short_or_missing(pipe):
    with pytest.raises(TimeoutError):
        protocol.receive(pipe[0], time.monotonic() + 0.2)
    os.write(pipe[1], struct.pack(">Q", 100) + b"abc")
    os.close(pipe[1])
    with pytest.raises(EOFError):
        protocol.receive(pipe[0], time.monotonic() + 2)


@pytest.mark.parametrize("data", [
    {"array": "object", "shape": [1], "blob": 0},
    {"array": "float32", "shape": [3], "blob": 0},
    {"array": "float32", "shape": [-1], "blob": 0},
    {"array": "float32", "shape": [1], "blob": 5},
    {"tuple": "nope"}, {"dict": [[1]]}, {"what": 1}, {},
])
def test_values_of_unknown_form_are_refused(data):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(data, [b"\0\0\0\0"])


def test_exceptions_are_rebuilt_by_name_and_message():
    for error in (TypeError("bad"), NotImplementedError("todo"), ValueError("v")):
        rebuilt = protocol.decode_error(protocol.encode_error(error))
        assert type(rebuilt) is type(error) and str(rebuilt) == str(error)
    for error in (SystemExit(3), KeyboardInterrupt(), type("FlaxError", (Exception,), {})("x")):
        rebuilt = protocol.decode_error(protocol.encode_error(error))
        assert type(rebuilt).__name__ == type(error).__name__
        assert isinstance(rebuilt, Exception) and not isinstance(rebuilt, (SystemExit,
                                                                           KeyboardInterrupt))
    odd = protocol.decode_error({"type": "UnicodeDecodeError", "message": "m"})
    assert type(odd).__name__ == "UnicodeDecodeError" and str(odd) == "m"
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_error({"type": 3})


def test_the_proxy_shows_the_learners_signature():
    sig = [["seed", 1, False, ""], ["x", 1, False, ""], ["features", 1, True, "3"]]
    proxy = runner.Proxy(None, "solve", sig, 5.0)
    assert str(inspect.signature(proxy)) == "(seed, x, features=3)"
    assert proxy.__name__ == "solve"
    assert not hasattr(runner.Proxy(None, "solve", [["a", 9, 0, ""]], 1), "__signature__")


def _stub():
    path = sandbox.package_folder() / "grading" / "answer_key_stub.py"
    spec = importlib.util.spec_from_file_location("stub_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_answer_key_stub_imports_but_cannot_be_used():
    stub = _stub()
    solve, dense = stub.solve, stub.LecunDense  # importable: `import initcourse` works
    for use in (lambda: solve(1, [1.0], 2), lambda: dense(3), lambda: dense.apply,
                lambda: exec("class Mine(dense): pass", {"dense": dense}),
                lambda: stub.lecun_normal_init(1, (2,))):
        with pytest.raises(stub.AnswerKeyUnavailable, match="not available while grading"):
            use()
    assert not hasattr(solve, "__jax_array__")  # dunder look-ups stay AttributeErrors
    with pytest.raises(AttributeError):
        stub.__wrapped__  # noqa: B018


def test_the_sandbox_hides_homes_submissions_and_the_report(tmp_path):
    submissions, home = tmp_path / "class", os.path.expanduser("~")
    submissions.mkdir()
    command = sandbox.bwrap_command(["python"], stub="/stub.py", hide=[submissions, "/srv"],
                                    limits=sandbox.Limits(), env={"HOME": "/tmp/home"},
                                    read_only=["/srv/cache"])
    text = " ".join(command)
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv",
                 "--ro-bind / /", "--setenv HOME /tmp/home", "--perms 01777 --tmpfs /tmp"):
        assert flag in text
    assert f"--tmpfs {home}" in text or home.startswith("/tmp")
    if os.path.isdir("/srv"):
        assert "--tmpfs /srv" in text and "--remount-ro /srv" in text
    pkg = sandbox.package_folder()
    assert f"--ro-bind /stub.py {pkg / 'solver.py'}" in text
    assert text.index("--tmpfs /tmp") < text.index(f"--ro-bind {pkg} {pkg}")
    assert command[-2:] == ["--", "python"]
    env = sandbox.child_environment("/tmp/home")
    assert env["HOME"] == "/tmp/home" and env["INITCOURSE_GRADING"] == "1"
    assert not set(env) & {"USER", "SSH_AUTH_SOCK", "PWD"}
    json.dumps(env)
