"""Keep the native libraries' log lines off stderr, so that users see only forgebench's own lines.

MediaPipe, LiteRT/TFLite (XNNPACK), absl and glog write INFO and WARNING lines straight to file
descriptor 2 when they load and on their first call ("Created TensorFlow Lite XNNPACK delegate",
"All log messages before absl::InitializeLog()", ``inference_feedback_manager.cc``,
``landmark_projection_calculator.cc``); Python libraries (torchvision, ...) emit warnings that say
nothing to a user of the command line. Three measures, none of which hides forgebench's own output:

* :func:`quiet_environment` sets the libraries' own log levels in the environment before they load
  (``GLOG_minloglevel``, ``TF_CPP_MIN_LOG_LEVEL``, ``GRPC_VERBOSITY``, Dask's ``logging.distributed``),
  and ``PYTHONWARNINGS`` so that
  worker processes (spawned pools, Dask workers) start as quiet as the command that made them;
* :func:`held_stderr` points descriptor 2 at ``/dev/null`` around a library's load or first call
  only (absl has no switch that works from Python), and gives it back afterwards;
* third-party Python warnings are ignored while a command runs (``forgebench.*`` warnings still show).

``--verbose`` (``FORGEBENCH_VERBOSE=1``, which workers inherit) turns all of this off, for debugging.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import warnings
from collections.abc import Iterator

VERBOSE_ENV = "FORGEBENCH_VERBOSE"

#: Environment settings that native libraries read when they load.
NATIVE_LOG_LEVELS: dict[str, str] = {
    "GLOG_minloglevel": "2",  # glog (MediaPipe's older logging): errors only
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow / TFLite
    "GRPC_VERBOSITY": "ERROR",
    "DASK_LOGGING__DISTRIBUTED": "error",  # Dask's scheduler, nanny and worker INFO/WARNING lines
    "PYTHONWARNINGS": "ignore",  # worker interpreters (this process filters by module instead)
}

def verbose() -> bool:
    """True when ``--verbose`` or ``FORGEBENCH_VERBOSE=1`` asked for every library's output."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def quiet_environment(verbose_output: bool = False) -> Iterator[None]:
    """Set the log levels and warning filters for one command; restore the environment afterwards.

    With ``verbose_output`` nothing is quietened and workers inherit ``FORGEBENCH_VERBOSE=1``.
    """
    changes = {VERBOSE_ENV: "1" if verbose_output else "0"}
    if not verbose_output:
        changes.update({k: v for k, v in NATIVE_LOG_LEVELS.items() if k not in os.environ})
    before = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        with warnings.catch_warnings():
            if not verbose_output:
                warnings.filterwarnings("ignore")
                warnings.filterwarnings("default", module=r"forgebench(\.|$)")
            yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class StderrHold:
    """File descriptor 2 on ``/dev/null`` between :meth:`start` and :meth:`stop`; Python's stderr unaffected.

    Native libraries write to descriptor 2 directly, some from their own threads a little after the call
    that set them off (MediaPipe's graph opens its calculators asynchronously), so a hold may need to
    span several calls: a face tracker holds from its construction to the end of its first frame.
    Meanwhile ``sys.stderr`` (forgebench's messages, progress bars, warnings) is pointed at the real
    stderr, so only the native lines are dropped. Holds are process-wide and counted: nested and
    concurrent holds share one redirection, released when the last one stops. Nothing is held in
    verbose mode. Child processes started during a hold inherit the silenced descriptor: keep holds
    to library loads and first calls.
    """

    _lock = threading.Lock()
    _count = 0
    _saved_fd: int | None = None
    _saved_stream = None
    _real_stream = None  # a writer on a lasting duplicate of the real stderr; kept for the process

    def __init__(self) -> None:
        self.active = False

    def start(self) -> StderrHold:
        if self.active or verbose():
            return self
        cls = StderrHold
        with cls._lock:
            if cls._count == 0 and not cls._hold():
                return self
            cls._count += 1
        self.active = True
        return self

    def stop(self) -> None:
        if not self.active:
            return
        self.active = False
        cls = StderrHold
        with cls._lock:
            cls._count -= 1
            if cls._count == 0:
                cls._release()

    @classmethod
    def _hold(cls) -> bool:
        try:
            saved = os.dup(2)
        except OSError:  # no descriptor 2: nothing to hold
            return False
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        cls._saved_fd = saved
        cls._saved_stream = None
        if _writes_to_fd2(sys.stderr):
            if cls._real_stream is None:
                cls._real_stream = io.TextIOWrapper(io.FileIO(os.dup(2), "w"), encoding=sys.stderr.encoding,
                                                    errors="backslashreplace", line_buffering=True,
                                                    write_through=True)
            cls._saved_stream, sys.stderr = sys.stderr, cls._real_stream
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        return True

    @classmethod
    def _release(cls) -> None:
        if cls._saved_fd is None:
            return
        os.dup2(cls._saved_fd, 2)
        os.close(cls._saved_fd)
        cls._saved_fd = None
        if cls._saved_stream is not None and sys.stderr is cls._real_stream:
            sys.stderr = cls._saved_stream
        cls._saved_stream = None

    def __enter__(self) -> StderrHold:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # pytest's capture, a StringIO, a closed stream
        return False


def held_stderr() -> StderrHold:
    """``with held_stderr(): ...``: descriptor 2 on ``/dev/null`` for the block (see :class:`StderrHold`)."""
    return StderrHold()
