"""The run's time limit (``--timeout``): every wait and every request is measured against it.

A diagnosis is often run from Cloud Shell while things are already broken; an API that never
answers must not hold the terminal. Whatever has not finished by the deadline is reported as
``Error`` ("did not finish within N s") and the command returns.
"""
import time

# A person is waiting at the prompt: a normal run takes a few seconds, AKS run command (--probe, or a private
# cluster's Kubernetes reads) 20-40 s; a dependency that does not answer is reported after a minute, not two.
# Every single request gives up well before this (transport.py: CONNECT_TIMEOUT, READ_TIMEOUT).
DEFAULT_TIMEOUT = 60
# fleet reads a whole tenant in bulk: a few minutes for the largest; a hung query still ends at the prompt.
FLEET_DEFAULT_TIMEOUT = 600
MAX_TIMEOUT = 3600


class Deadline:
    """A point in time after which nothing is waited for; ``seconds=None`` means no limit."""

    def __init__(self, seconds=None, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._end = None if seconds is None else clock() + seconds

    def remaining(self):
        """Seconds left (0 when passed; infinity without a limit)."""
        if self._end is None:
            return float("inf")
        return max(0.0, self._end - self._clock())

    @property
    def expired(self):
        return self.remaining() <= 0

    def words(self):
        """'within 60 s (--timeout)', for reasons that say what did not finish."""
        return "within {:g} s (--timeout)".format(self.seconds) if self.seconds is not None else "in time"


NO_DEADLINE = Deadline(None)
