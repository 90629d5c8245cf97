"""The run-folder lock: one writer at a time, re-entrant in its process, stale locks taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from forgebench.benchmarks import runlock
from forgebench.benchmarks.runlock import LOCK_NAME, RunBusyError, read_owner, run_lock

HOLD = """
import sys
from forgebench.benchmarks.runlock import run_lock
with run_lock(sys.argv[1], "holder --test"):
    print("held", flush=True)
    sys.stdin.read()
"""


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", "pass"])
    proc.wait()
    return proc.pid  # reaped: no process has this pid now (reuse within the test is vanishingly unlikely)


def test_lock_held_by_another_process_stops_a_second_writer(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline() == "held\n"
        owner = read_owner(tmp_path / LOCK_NAME)
        assert (owner["pid"], owner["host"], owner["command"]) == (holder.pid, socket.gethostname(), "holder --test")
        with pytest.raises(RunBusyError) as err, run_lock(tmp_path):
            pass
        msg = str(err.value)
        assert msg.startswith(f"{tmp_path} is being written by pid {holder.pid} on host {socket.gethostname()} "
                              f"since {owner['since']} (holder --test); wait for it or stop it")
        assert "\n" not in msg and read_owner(tmp_path / LOCK_NAME) == owner  # the holder's record is untouched
    finally:
        holder.communicate("")
    with run_lock(tmp_path):  # released when the holder ended
        assert read_owner(tmp_path / LOCK_NAME)["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_stale_lock_is_taken_over_with_a_note(tmp_path, capsys):
    stale = {"pid": dead_pid(), "host": socket.gethostname(), "since": "2020-01-01T00:00:00Z", "command": "x"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(stale))
    with run_lock(tmp_path, "mine"):
        assert read_owner(tmp_path / LOCK_NAME)["command"] == "mine"
    assert f"left by pid {stale['pid']} on host {stale['host']} (no longer running)" in capsys.readouterr().err
    assert not (tmp_path / LOCK_NAME).exists()


def test_reentrant_in_one_process_and_released_on_an_exception(tmp_path):
    with pytest.raises(ValueError), run_lock(tmp_path):
        with run_lock(tmp_path):
            pass
        assert (tmp_path / LOCK_NAME).is_file()  # the outer holder still has it
        raise ValueError
    assert not (tmp_path / LOCK_NAME).exists() and not runlock._HELD


def test_without_flock_the_record_decides(tmp_path, capsys):
    """File systems without flock: a live pid on this host holds the folder; a dead one is stale."""
    path = tmp_path / LOCK_NAME
    live = {"pid": os.getppid(), "host": socket.gethostname(), "since": "2020-01-01T00:00:00Z"}
    path.write_text(json.dumps(live))
    with pytest.raises(RunBusyError, match=f"pid {live['pid']} on host"):
        runlock._acquire_by_record(tmp_path, path, None)
    path.write_text(json.dumps({**live, "host": "elsewhere.example"}))
    with pytest.raises(RunBusyError, match="on host elsewhere.example"):  # cannot tell: assume it runs
        runlock._acquire_by_record(tmp_path, path, None)
    path.write_text(json.dumps({**live, "pid": dead_pid()}))
    runlock._acquire_by_record(tmp_path, path, "mine")
    assert read_owner(path)["command"] == "mine" and "no longer running" in capsys.readouterr().err
