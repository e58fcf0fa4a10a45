"""Serve the classroom demo (notebooks/demo.ipynb) with Voilà: the explorers, no code.

    python tools/demo.py [--port 8866] [--token TOKEN]       (what `make demo` runs)

Voilà listens on 127.0.0.1 only, with token authentication on (a random token unless
``--token`` gives one), shows no code cells (``strip_sources``) and renders with the
course's template (share/jupyter/voila/templates/initcourse), which needs no internet:
every asset the page loads comes from this server. Once the page answers, the address
to open is printed, with the token, for the classroom look and for the projector look.
Ctrl-C stops the server.

The browser test (tests/browser/test_demo_in_voila.py) starts this same script.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "demo.ipynb"
TEMPLATES = REPO / "share" / "jupyter"  # holds voila/templates/initcourse
TEMPLATE = "initcourse"
DEFAULT_PORT = 8866  # Voilà's own default, away from JupyterLab's 8888
START_TIMEOUT = 120  # seconds for Voilà to answer (a busy machine, a cold start)


def command(notebook: Path, port: int, token: str) -> list[str]:
    """The Voilà command line that serves ``notebook`` on ``127.0.0.1:port``."""
    return [
        sys.executable, "-m", "voila", str(notebook),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--Voila.port={port}",
        "--Voila.port_retries=0",  # the printed address is the one served, or nothing is
        f"--Voila.token={token}",
        f"--VoilaConfiguration.template={TEMPLATE}",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.theme=light",
    ]  # fmt: skip


def environment() -> dict[str, str]:
    """The server's (and its kernel's) environment: the course's template on Jupyter's
    data path, this checkout's ``initcourse`` first on the import path, JAX on the CPU."""
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(TEMPLATES), env.get("JUPYTER_PATH")]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def addresses(port: int, token: str) -> dict[str, str]:
    """The page's address for each look, token included."""
    base = f"http://127.0.0.1:{port}/?token={token}"
    return {"classroom": base, "projector": f"{base}&look=projector"}


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until_up(process: subprocess.Popen, port: int, timeout: float) -> bool:
    """True once Voilà answers; False if it exited or did not answer within ``timeout``.

    It asks for the login page, which needs no token and starts no kernel.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answers
        except OSError:
            time.sleep(0.25)
    return False


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tools/demo.py", description=__doc__.splitlines()[0],
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    parser.add_argument("--token", default=None,
                        help="the token the page asks for (default: a new random one)")
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK,
                        help="the notebook to serve (default notebooks/demo.ipynb)")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be between 1 and 65535, got {args.port}")
    if args.token is not None and (len(args.token) < 16 or not args.token.isascii()
                                   or not args.token.replace("-", "").replace("_", "").isalnum()):
        parser.error("--token must be at least 16 letters, digits, '-' or '_' "
                     f"(it goes into the address), got {args.token!r}")
    if not args.notebook.is_file():
        parser.error(f"--notebook: no such file: {args.notebook}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if not port_is_free(args.port):
        print(f"demo: port {args.port} on 127.0.0.1 is in use (another demo or server?); "
              f"choose another: make demo DEMO_PORT={args.port + 1}", file=sys.stderr)
        return 1
    token = args.token or secrets.token_urlsafe(24)
    process = subprocess.Popen(command(args.notebook, args.port, token), env=environment(),
                               cwd=REPO, stdin=subprocess.DEVNULL)
    # Ctrl-C and a SIGTERM stop Voilà (it shuts its kernels down) and then this script.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: process.send_signal(signal.SIGTERM))
    if wait_until_up(process, args.port, START_TIMEOUT):
        urls = addresses(args.port, token)
        print("\n  initcourse demo: open this address (it carries the token):\n"
              f"    {urls['classroom']}\n"
              f"  projector look (larger type, lines and controls):\n"
              f"    {urls['projector']}\n"
              "  (the look can also be switched on the page). Ctrl-C stops the server.\n",
              flush=True)
    elif process.poll() is None:
        print(f"demo: Voilà did not answer within {START_TIMEOUT} s; stopping it.", file=sys.stderr)
        process.terminate()
    return process.wait()


if __name__ == "__main__":
    sys.exit(main())
