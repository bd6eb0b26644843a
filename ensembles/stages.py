"""Where the time and memory of ``tfpipe train`` go: named stages, each with its seconds and peak resident memory.

``tfpipe train`` runs every step inside ``stages.stage(name)``; the log prints one line per finished stage and the
records go into ``metrics.json`` (``"stages"``) and the report, so that a user sees what a run cost and where,
and a benchmark can break a run down without a profiler. Peak RSS per stage comes from the kernel's high-water
mark (``VmHWM`` of ``/proc/self/status``), reset at the start of each stage (``/proc/self/clear_refs``, Linux
4.0+); nested stages pass their peak up to the stages around them. Elsewhere (no ``/proc``) the peak is the
process's peak so far (``ru_maxrss``), which only grows.

Example::

    >>> log = StageLog(log=None)
    >>> with log.stage("allocate"):
    ...     block = bytearray(200 << 20)
    >>> del block
    >>> record = log.records[0]
    >>> record["stage"], record["peak_rss_mb"] - record["start_rss_mb"] > 150
    ('allocate', True)
"""
from __future__ import annotations

import contextlib
import re
import resource
import time

_STATUS = "/proc/self/status"


def _status_kb(field: str) -> int | None:
    try:
        with open(_STATUS, encoding="ascii") as handle:
            found = re.search(rf"^{field}:\s+(\d+)", handle.read(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) if found else None


def rss_mb() -> float:
    """Resident memory of this process now, MB (the peak so far where ``/proc`` is missing)."""
    kb = _status_kb("VmRSS")
    return (kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def peak_rss_mb() -> float:
    """Peak resident memory since the last :func:`reset_peak` (or since the start), MB."""
    kb = _status_kb("VmHWM")
    return (kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def reset_peak() -> bool:
    """Sets the kernel's peak RSS mark to the current RSS; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class StageLog:
    """Named, nestable stages with seconds and peak RSS; ``log`` prints a line per stage (None: silent)."""

    def __init__(self, log=print, prefix: str = "[tfpipe train]"):
        self.records: list[dict] = []
        self._open: list[dict] = []
        self._log, self._prefix = log, prefix

    def _observe(self) -> None:
        peak = peak_rss_mb()
        for active in self._open:
            active["peak_rss_mb"] = max(active["peak_rss_mb"], peak)

    @contextlib.contextmanager
    def stage(self, name: str, detail: str = ""):
        self._observe()                   # the stages around this one keep their peak so far
        reset_peak()
        record = {"stage": name, "start_rss_mb": rss_mb(), "peak_rss_mb": 0.0}
        if detail:
            record["detail"] = detail
        self._open.append(record)
        start = time.perf_counter()
        try:
            yield record
        finally:
            self._observe()
            self._open.pop()
            record.update(seconds=round(time.perf_counter() - start, 3), end_rss_mb=rss_mb())
            record["peak_rss_mb"] = max(record["peak_rss_mb"], record["start_rss_mb"], record["end_rss_mb"])
            for key in ("start_rss_mb", "end_rss_mb", "peak_rss_mb"):
                record[key] = round(record[key], 1)
            record["depth"] = len(self._open)
            self.records.append(record)
            if self._log is not None:
                self._log(f"{self._prefix} {'  ' * len(self._open)}{name}: {record['seconds']:.1f} s, peak RSS "
                          f"{record['peak_rss_mb']:,.0f} MB (start {record['start_rss_mb']:,.0f} MB)")

    def table(self) -> str:
        """The records as a Markdown table, in the order the stages ended."""
        rows = ["| stage | seconds | start RSS MB | peak RSS MB | end RSS MB |", "|---|---|---|---|---|"]
        for r in self.records:
            rows.append(f"| {'  ' * r['depth']}{r['stage']} | {r['seconds']:.1f} | {r['start_rss_mb']:,.0f} | "
                        f"{r['peak_rss_mb']:,.0f} | {r['end_rss_mb']:,.0f} |")
        return "\n".join(rows)


def stage(log: "StageLog | None", name: str, detail: str = ""):
    """``log.stage(name)``, or a context that records nothing when ``log`` is None."""
    return contextlib.nullcontext({}) if log is None else log.stage(name, detail)
