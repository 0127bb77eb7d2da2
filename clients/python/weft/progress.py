"""A one-line progress bar for a running graph, fed by its events.

It draws nothing until `delay` seconds after the graph was submitted, so
short computes print nothing at all; after that a ticker thread redraws it a
few times a second (the elapsed time moves even while one long task runs and
no event arrives).
"""
from __future__ import annotations

import os
import threading
import time
from typing import IO, Optional


def _columns(stream: IO[str]) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    # Not a terminal (a file, StringIO), or one that reports no size: a common width.
    return columns or 80


class ProgressBar:
    def __init__(self, stream: IO[str], delay: float = 0.5, interval: float = 0.2):
        self.stream = stream
        self.delay = delay
        self.interval = interval
        self.started = time.monotonic()
        self.total: Optional[int] = None
        # Sets of keys, not counters: a retried task has two pretask events,
        # and a reconnecting event stream may replay an event.
        self.done: set = set()
        self.failed: set = set()
        self._lock = threading.Lock()
        self._shown = False
        self._width = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "ProgressBar":
        self._thread = threading.Thread(target=self._tick, name="weft-progress", daemon=True)
        self._thread.start()
        return self

    def due(self) -> bool:
        """Has the delay passed (so the bar is or will be drawn)?"""
        return time.monotonic() - self.started >= self.delay

    def update(self, event: dict) -> None:
        with self._lock:
            kind = event.get("type")
            if kind == "postsubmit_all":
                self.total = event.get("tasks")
            elif kind == "posttask":
                (self.done if event.get("ok") else self.failed).add(event.get("key"))

    def close(self, final: bool = True) -> None:
        """Stops the ticker. With `final` (the graph ran), draws the last state
        if the delay has passed; ends the line if anything was drawn."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if final and self.due():
                self._draw()
            if self._shown:
                self.stream.write("\n")
                self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._shown or self.due():
                    self._draw()

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        done = len(self.done)
        total = self.total
        if total is None:
            counts, fraction = f"{done}/? tasks", 0.0
        else:
            # A graph whose tasks were all answered by a cache has 0 tasks: complete.
            fraction = 1.0 if total == 0 else min(1.0, done / total)
            counts = f"{done}/{total} tasks {fraction * 100:3.0f}%"
        failed = f", {len(self.failed)} failed" if self.failed else ""
        text = f" {counts}{failed} {elapsed:.1f}s"
        bar_width = max(10, min(40, _columns(self.stream) - len(text) - 8))
        filled = int(bar_width * fraction)
        return f"weft [{'#' * filled}{'-' * (bar_width - filled)}]{text}"

    def _draw(self) -> None:
        text = self.line()
        # Spaces over what a longer earlier line left behind.
        pad = " " * max(0, self._width - len(text))
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._width = len(text)
        self._shown = True
