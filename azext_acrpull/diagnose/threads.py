"""Concurrent calls that never outlive the run.

``concurrent.futures`` joins its worker threads when the interpreter exits, so one call stuck on
a silent API would keep az from exiting after the command has already answered. These workers
are daemon threads, and waiting for them stops at the run's deadline: what has not finished by
then is reported as unfinished and abandoned.
"""
import contextvars
import functools
import threading
import time


class Outcome:
    """What one call came to: ``done`` with its ``value`` or ``error``, or not done by the deadline."""

    __slots__ = ("done", "value", "error")

    def __init__(self, done=False, value=None, error=None):
        self.done, self.value, self.error = done, value, error


def call_all(funcs, deadline=None, max_workers=None, name="acrpull"):
    """Call each zero-argument function on daemon worker threads, at most ``max_workers`` at a time.

    Returns one Outcome per function, in order, once all have returned or the deadline has passed.
    Calls not yet started at the deadline are never started."""
    # Each call runs in a copy of the caller's context, so what a check notes about its reads (sources.py)
    # follows it into the threads its facts start.
    funcs = [functools.partial(contextvars.copy_context().run, f) for f in funcs]
    outcomes = [Outcome() for _ in funcs]
    if not funcs:
        return outcomes
    todo = list(range(len(funcs) - 1, -1, -1))
    cond = threading.Condition()
    left = [len(funcs)]

    def worker():
        while True:
            with cond:
                if not todo:
                    return
                index = todo.pop()
            try:
                value, error = funcs[index](), None
            except Exception as err:  # pylint: disable=broad-except
                value, error = None, err
            with cond:
                outcomes[index] = Outcome(True, value, error)
                left[0] -= 1
                cond.notify_all()

    for n in range(min(max_workers or len(funcs), len(funcs))):
        threading.Thread(target=worker, name="{}-{}".format(name, n), daemon=True).start()
    with cond:
        while left[0]:
            wait = None if deadline is None else deadline.remaining()
            if wait is not None and wait <= 0:
                todo.clear()
                break
            cond.wait(None if wait == float("inf") else wait)
        return [Outcome(o.done, o.value, o.error) for o in outcomes]


_STARTED = []
_STARTED_LOCK = threading.Lock()


def start(func, name="acrpull"):
    """Run ``func`` on a daemon thread and return at once (its errors surface where its result is used)."""
    def run():
        try:
            func()
        except Exception:  # pylint: disable=broad-except
            pass
    thread = threading.Thread(target=run, name=name, daemon=True)
    with _STARTED_LOCK:
        _STARTED[:] = [t for t in _STARTED if t.is_alive()]
        _STARTED.append(thread)
    thread.start()


def join_started(seconds):
    """Wait, at most ``seconds`` in all, for the threads ``start`` started (reads begun early that no check waited
    for): a command that answers should not leave the interpreter to exit while its own threads are in the middle
    of a TLS read or an import. What is still running then is abandoned, as at the deadline."""
    ends = time.monotonic() + max(0.0, seconds)
    with _STARTED_LOCK:
        threads = list(_STARTED)
    for thread in threads:
        thread.join(max(0.0, ends - time.monotonic()))
