"""Which sources a check read, so its findings can say how they know.

A check runs in a context of its own (runner.py). A raw read notes its source there; a cached fact
(``Facts.once``) remembers the sources its fetch read and notes them again for every check that asks,
so a check learns them whoever fetched first. Threads started for a check carry its context along
(threads.py). The runner then tells, for example, that a private cluster's pod was read through AKS
run command.
"""
import contextvars

_READ = contextvars.ContextVar("acrpull_sources", default=None)

KUBERNETES = "kubernetes"


def begin():
    """Start recording for the current check; the set fills as its facts are asked for."""
    sources = set()
    return sources, _READ.set(sources)


def end(token):
    _READ.reset(token)


def note(*source):
    read = _READ.get()
    if read is not None:
        read.update(source)
