"""Client-side limits on requests and tokens per minute: a sliding one-minute window, so a sweep never sends more
than the account allows and spends its retries on real overload rather than on its own bursts."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class MinuteLimiter:
    def __init__(self, rpm: int | None = None, tpm: int | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rpm, self.tpm, self.clock, self.sleep = rpm, tpm, clock, sleep
        self.sent: deque[tuple[float, int]] = deque()  # (time, tokens) of the last minute's requests
        self.lock = threading.Lock()
        self.waited_s = 0.0

    def delay(self, tokens: int, now: float) -> float:
        """Seconds to wait before a request of ``tokens`` fits both limits (0: send now)."""
        while self.sent and self.sent[0][0] <= now - 60.0:
            self.sent.popleft()
        wait = 0.0
        if self.rpm is not None and len(self.sent) >= self.rpm:
            wait = max(wait, self.sent[len(self.sent) - self.rpm][0] + 60.0 - now)
        if self.tpm is not None and self.sent:
            used = sum(t for _, t in self.sent)
            for at, t in self.sent:  # the window must shed enough old tokens for this request to fit
                if used + tokens <= self.tpm:
                    break
                used -= t
                wait = max(wait, at + 60.0 - now)
        return max(0.0, wait)

    def acquire(self, tokens: int) -> None:
        with self.lock:
            while (wait := self.delay(tokens, self.clock())) > 0:
                self.waited_s += wait
                self.sleep(wait)
            self.sent.append((self.clock(), tokens))
