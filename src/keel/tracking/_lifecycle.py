"""Runs that end: a heartbeat while a run is open, and an ending however the process stops.

A run started without ``with`` ends ``FINISHED`` when the interpreter exits, ``FAILED`` on an
unhandled exception (the error is kept in the ``keel.error`` tag) and ``KILLED`` on SIGTERM or
Ctrl-C. While it is open, a daemon thread writes the ``keel.heartbeat`` tag every
:data:`HEARTBEAT_S` seconds; the run also records the host and process id that own it, so
:func:`is_lost` can tell a run whose process died from one still working.

Hooks are installed once per process, on the first run, and act only in the process that
started the run (a forked child leaving does not end its parent's runs).
"""

from __future__ import annotations

import atexit
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Protocol

from keel.store import Run, RunStatus

HEARTBEAT_S = 30.0
#: A run whose heartbeat is this many intervals old is lost even when its host is elsewhere.
LOST_AFTER_BEATS = 4
HEARTBEAT_TAG = "keel.heartbeat"
HOST_TAG = "keel.host"
PID_TAG = "keel.pid"


class _Endable(Protocol):
    @property
    def id(self) -> str: ...

    def set_tag(self, key: str, value: Any) -> None: ...

    def end(self, status: RunStatus = RunStatus.FINISHED) -> None: ...


_lock = threading.RLock()
_runs: dict[str, _Endable] = {}
#: Runs to beat for, by id: the watched runs and those ended by their owner (pipeline runs).
_beats: dict[str, Callable[[str, str], None]] = {}
_owner_pid: int | None = None
_installed = False
_beat_thread: threading.Thread | None = None
_wake = threading.Event()


def owner_tags() -> dict[str, str]:
    """Who owns a new run: host, process id and a first heartbeat."""
    return {
        HOST_TAG: platform.node(),
        PID_TAG: str(os.getpid()),
        HEARTBEAT_TAG: str(int(time.time() * 1000)),
    }


def watch(run: _Endable) -> None:
    """Beat for ``run`` and end it when the process stops."""
    global _owner_pid
    with _lock:
        _runs[run.id] = run
        _beats[run.id] = run.set_tag
        _owner_pid = os.getpid()
        _install()
        _start_beats()


def keep_alive(run_id: str, set_tag: Callable[[str, str], None]) -> None:
    """Beat for a run its owner ends itself (a pipeline run), until :func:`forget`."""
    with _lock:
        _beats[run_id] = set_tag
        _start_beats()


def forget(run_id: str) -> None:
    with _lock:
        _runs.pop(run_id, None)
        _beats.pop(run_id, None)


def end_all(status: RunStatus, error: str = "") -> None:
    """End every watched run of this process, newest first."""
    with _lock:
        if _owner_pid != os.getpid():
            return
        runs = list(reversed(_runs.values()))
    for run in runs:
        try:
            if error:
                run.set_tag("keel.error", error[:5000])
            run.end(status)
        except Exception:  # exiting: a store that is already closed must not mask the exit
            forget(run.id)


# -- hooks -----------------------------------------------------------------------------------
def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(end_all, RunStatus.FINISHED)
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            end_all(RunStatus.KILLED, "KeyboardInterrupt")
        else:
            end_all(RunStatus.FAILED, f"{kind.__name__}: {exc}")
        previous(kind, exc, tb)

    sys.excepthook = hook
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):  # pragma: no cover - embedded interpreters
            pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    end_all(RunStatus.KILLED, "terminated by SIGTERM")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _start_beats() -> None:
    global _beat_thread
    if _beat_thread is not None and _beat_thread.is_alive():
        return
    _beat_thread = threading.Thread(target=_beat_loop, name="keel-heartbeat", daemon=True)
    _beat_thread.start()


def _beat_loop() -> None:
    while not _wake.wait(HEARTBEAT_S):
        with _lock:
            beats = list(_beats.values())
        now = str(int(time.time() * 1000))
        for set_tag in beats:
            try:
                set_tag(HEARTBEAT_TAG, now)
            except Exception:  # a transient store error: the next beat tries again
                continue


# -- reading ---------------------------------------------------------------------------------
def is_lost(run: Run, *, now_ms: int | None = None) -> bool:
    """A RUNNING run whose process is gone: dead on this host, or silent for too long."""
    if run.status is not RunStatus.RUNNING:
        return False
    tags = run.tags
    pid, host = tags.get(PID_TAG), tags.get(HOST_TAG)
    if pid and pid.isdigit() and host == platform.node() and not _alive(int(pid)):
        return True
    beat = tags.get(HEARTBEAT_TAG)
    if beat and beat.isdigit():
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        return now - int(beat) > LOST_AFTER_BEATS * HEARTBEAT_S * 1000
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def display_status(run: Run) -> str:
    """The status to show: ``LOST`` for a run whose process died without ending it."""
    return "LOST" if is_lost(run) else run.status.value
