"""A real ``forgebench leaderboard serve`` process, and headless Chromium driven over the DevTools pipe.

Shared by the tests and ``measurements/leaderboards/``. Chromium is driven with
``--remote-debugging-pipe`` (the DevTools protocol as NUL-separated JSON on file
descriptors 3 and 4), so nothing beyond the browser itself is needed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
TRAMPOLINE = ("import fcntl, os, sys\n"
              "r, w = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3])\n"
              "os.dup2(r, 3)\nos.dup2(w, 4)\nos.execv(sys.argv[3], sys.argv[3:])\n")


def start_server(store: Path, *args: str, port: int = 0,
                 timeout: float = 120.0) -> tuple[subprocess.Popen, str, list[str]]:
    """Start the server on loopback (``port`` 0: a free port); returns (process, base URL, its first lines)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "forgebench", "leaderboard", "serve", "--store", str(store),
                             "--port", str(port), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=ROOT, start_new_session=True)
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            m = re.search(r"at (http://[^ ]+/) ", line)
            if m:
                lines.append(proc.stdout.readline().rstrip())  # the limits line
                # Keep reading what it says, so that a chatty server never blocks on a full pipe.
                threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
                return proc, m.group(1).rstrip("/"), lines
        if proc.poll() is not None:
            break
    stop_server(proc)
    raise RuntimeError(f"server did not start: {lines}")


def stop_server(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
    """Signal the server (SIGINT: a clean stop; SIGKILL: a crash) and wait for it."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Chromium:
    """Headless Chromium with one page, driven over the DevTools protocol on a pipe."""

    def __init__(self, user_data_dir: Path, width: int = 1280, height: int = 900):
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-pipe",
                 f"--user-data-dir={user_data_dir}", f"--window-size={width},{height}", "about:blank"]
        # A Python trampoline moves the pipe ends onto the descriptors Chromium expects (3: commands in,
        # 4: answers out); dash cannot redirect descriptors above 9.
        self.proc = subprocess.Popen([sys.executable, "-c", TRAMPOLINE, str(to_browser_r), str(from_browser_w),
                                      CHROMIUM, *flags], pass_fds=(to_browser_r, from_browser_w),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf, self._id, self.session = b"", 0, None
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False})

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def goto(self, url: str, timeout: float = 30.0) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'", timeout)

    def wait_for(self, expression: str, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(0.1)
        return False

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            h = int(self.evaluate("document.documentElement.scrollHeight") or 900)
            w = int(self.evaluate("document.documentElement.scrollWidth") or 1280)
            params["clip"] = {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", params)["data"]))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self._r)
        os.close(self._w)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
