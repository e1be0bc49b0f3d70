"""Optional background sampling of CPU and memory into run metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from keel.store import Metric


class SystemMetricsSampler:
    """Samples ``system.cpu_percent`` and ``system.memory_*`` every ``interval_s`` seconds."""

    def __init__(self, log: Callable[[list[Metric]], None], *, interval_s: float = 10.0) -> None:
        self._log = log
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="keel-system-metrics", daemon=True)
        self._step = 0

    def start(self) -> SystemMetricsSampler:
        import psutil

        self._proc = psutil.Process()
        self._proc.cpu_percent(None)
        psutil.cpu_percent(None)
        self._thread.start()
        return self

    def sample(self) -> list[Metric]:
        import psutil

        now = int(time.time() * 1000)
        mem = psutil.virtual_memory()
        values = {
            "system.cpu_percent": psutil.cpu_percent(None),
            "system.memory_used_mb": (mem.total - mem.available) / 2**20,
            "system.memory_percent": mem.percent,
            "system.process_rss_mb": self._proc.memory_info().rss / 2**20,
            "system.process_cpu_percent": self._proc.cpu_percent(None),
        }
        metrics = [Metric(k, float(v), self._step, now) for k, v in values.items()]
        self._step += 1
        return metrics

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._log(self.sample())
            except Exception:  # the run may have ended between checks; never kill training
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 5)
