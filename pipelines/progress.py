"""A progress bar for local runners: counts the chunk markers the workers leave in the work directory
(one sub-directory per stage; rows are counted from the last stage).

Example::

    >>> import os, tempfile
    >>> markers = tempfile.mkdtemp()
    >>> with ChunkProgress(markers, total=2, description="writing") as progress:   # a worker finishes a chunk:
    ...     os.makedirs(os.path.join(markers, "write"))
    ...     _ = open(os.path.join(markers, "write", "00000-00000"), "w").write("1500")
    >>> progress._state()     # (chunk passes done, rows)
    (1, 1500)
"""
from __future__ import annotations

import os
import sys
import threading
import time


class ChunkProgress:
    """Shows chunks done and rows read while the block runs (tqdm on a terminal, log lines otherwise)."""

    def __init__(self, marker_dir: str, total: int, description: str, interval: float = 0.5,
                 rows_stage: str = "write"):
        self.marker_dir, self.total, self.description, self.interval = marker_dir, total, description, interval
        self.rows_stage = rows_stage
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._started = time.monotonic()

    def _state(self) -> tuple[int, int]:
        """(chunk passes done over every stage, rows through the last stage)."""
        done, rows = 0, 0
        for stage in sorted(os.listdir(self.marker_dir)) if os.path.isdir(self.marker_dir) else []:
            directory = os.path.join(self.marker_dir, stage)
            names = os.listdir(directory)
            done += len(names)
            if stage != self.rows_stage:
                continue
            for name in names:
                try:
                    with open(os.path.join(directory, name)) as handle:
                        rows += int(handle.read() or 0)
                except (OSError, ValueError):
                    pass
        return done, rows

    def _watch(self) -> None:
        from tqdm import tqdm

        interactive = sys.stderr.isatty()
        bar = tqdm(total=self.total, desc=self.description, unit="chunk pass", file=sys.stderr, disable=not interactive,
                   dynamic_ncols=True)
        last_logged = -1
        while True:
            stopping = self._stop.wait(self.interval)
            done, rows = self._state()
            elapsed = max(time.monotonic() - self._started, 1e-9)
            bar.n = done
            bar.set_postfix_str(f"{rows:,} rows, {rows / elapsed:,.0f} rows/s", refresh=True)
            if not interactive and done != last_logged and (done == self.total or stopping):
                print(f"[tfpipe] {self.description}: {done}/{self.total} chunks, {rows:,} rows, "
                      f"{rows / elapsed:,.0f} rows/s", file=sys.stderr, flush=True)
                last_logged = done
            if stopping:
                break
        bar.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False
