"""Test-session guards shared by the unit tests and the notebook runs.

Loaded automatically for `pytest tests/`; the notebook run loads it as a plugin
(`pytest -p tests.conftest --nbval-lax notebooks/ ...`, see the Makefile), because pytest only
applies a conftest.py to the files below its folder.

1. No network. In this process, socket connections and DNS look-ups to anything but localhost
   raise RuntimeError. Notebook kernels are separate processes that the socket patch cannot
   reach: they are kept offline by the environment variables set below (HF_HUB_OFFLINE, ...),
   which they inherit, and by CI machines having no network.
2. Exercise notebooks: a cell tagged `raises-exception` must raise the exercise's
   NotImplementedError. nbval accepts *any* exception (or none) in such cells; the hook below
   fails the cell on any other exception, and on no exception at all.
"""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

# Set at import time, before any kernel starts, so that nbval's kernels inherit them.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TQDM_DISABLE": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "PYTHONWARNINGS": "ignore",
    "JUPYTER_PLATFORM_DIRS": "1",
}
os.environ.update(OFFLINE_ENV)
# Unit tests draw off-screen; notebook kernels keep the inline backend the Makefile gives them,
# so every figure of a lesson is really rendered (to PNG) when CI runs it.
os.environ.setdefault("MPLBACKEND", "Agg")

LOCAL_HOSTS = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").split("%")[0].lower()
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_address(address: object) -> None:
    """Raise unless `address` is a unix socket path or a loopback (host, port, ...) tuple."""
    if isinstance(address, (str, bytes)):  # AF_UNIX path (or abstract socket)
        return
    if isinstance(address, tuple) and address and _is_local_host(address[0]):
        return
    raise RuntimeError(f"network access blocked in tests: {address!r}")


_originals: dict[str, object] = {}


def block_network() -> None:
    if _originals:
        return
    _originals.update(
        connect=socket.socket.connect,
        connect_ex=socket.socket.connect_ex,
        create_connection=socket.create_connection,
        getaddrinfo=socket.getaddrinfo,
    )
    connect, connect_ex = _originals["connect"], _originals["connect_ex"]
    create_connection, getaddrinfo = _originals["create_connection"], _originals["getaddrinfo"]

    def guarded_connect(self, address):
        if self.family != socket.AF_UNIX:
            _check_address(address)
        return connect(self, address)

    def guarded_connect_ex(self, address):
        if self.family != socket.AF_UNIX:
            _check_address(address)
        return connect_ex(self, address)

    def guarded_create_connection(address, *args, **kwargs):
        _check_address(address)
        return create_connection(address, *args, **kwargs)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _is_local_host(host):
            raise RuntimeError(f"network access blocked in tests: {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    socket.create_connection = guarded_create_connection
    socket.getaddrinfo = guarded_getaddrinfo


def unblock_network() -> None:
    if not _originals:
        return
    socket.socket.connect = _originals["connect"]
    socket.socket.connect_ex = _originals["connect_ex"]
    socket.create_connection = _originals["create_connection"]
    socket.getaddrinfo = _originals["getaddrinfo"]
    _originals.clear()


def pytest_configure(config: pytest.Config) -> None:
    block_network()  # active from collection on: an import that downloads fails too


def pytest_unconfigure(config: pytest.Config) -> None:
    unblock_network()


# --- nbval: exercise cells must raise NotImplementedError -------------------------------------


def _nbval_cell_class():
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to police
        return None
    return IPyNbCell


def _in_exercises(item: pytest.Item) -> bool:
    return item.path.parent.name == "exercises"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    cell_class = _nbval_cell_class()
    if cell_class is None or not isinstance(item, cell_class):
        return (yield)
    try:
        result = yield
    except Exception as error:
        inner = getattr(error, "inner_traceback", None) or ""
        if _in_exercises(item) and "NotImplementedError" in inner:
            item.raise_cell_error(
                "Exercise stub raised NotImplementedError in a cell that is not tagged "
                "`raises-exception`: in solutions/*.py, give that cell the header "
                '`# %% tags=["exercise-check"]`, then run `make exercises`',
                inner,
            )
        raise
    if not item.options.get("check_exception"):
        return result
    errors = [o for o in (item.test_outputs or []) if o.get("output_type") == "error"]
    where = "exercise " if _in_exercises(item) else ""
    if not errors:
        item.raise_cell_error(
            f"{where}cell is tagged `raises-exception` but raised nothing"
            + (
                " (expected the exercise's NotImplementedError: is the function it calls "
                "stubbed with `# BEGIN SOLUTION` / `# END SOLUTION` in the solution?)"
                if _in_exercises(item)
                else ""
            )
        )
    error = errors[0]
    traceback = "\n" + "\n".join(error.get("traceback", []))
    if error.get("ename") == "KeyboardInterrupt":
        item.raise_cell_error("cell interrupted (timeout?)", traceback)
    if _in_exercises(item) and error.get("ename") != "NotImplementedError":
        item.raise_cell_error(
            f"exercise cell raised {error.get('ename')}: {error.get('evalue')}; a "
            "`raises-exception` cell in exercises/ may only raise the exercise's "
            "NotImplementedError",
            traceback,
        )
    return result
