"""The figures the reliability suites report, counted while they run: faults injected and survived, bad inputs
tried, secret markers planted and leaked, writes seen.

Each suite keeps a Tally and saves it when its module ends, into tests/.artifacts/figures.json (one entry per
suite, replaced whole by the suite's latest run). A run that selects only some tests (-k, -m, node ids) saves
nothing, so that the figures always describe whole suites. scripts/figures.py writes them into the README.

Under pytest-xdist (tests/run.sh) a suite's tests are spread over workers: each worker hands its part to the
controller (``workeroutput``), which adds the parts up and saves the whole suite once (tests/conftest.py).
"""
import collections
import json
import os
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATH = os.environ.get("ACRPULL_FIGURES") or os.path.join(ROOT, "tests", ".artifacts", "figures.json")
_LOCK = threading.Lock()


class Tally:
    """Counts (``add``) and named sets (``note``) of one suite."""

    def __init__(self, suite):
        self.suite = suite
        self.counts = collections.Counter()
        self.sets = collections.defaultdict(set)

    def add(self, **counts):
        self.counts.update(counts)

    def note(self, **values):
        for key, value in values.items():
            self.sets[key].update(value if isinstance(value, (list, tuple, set)) else [value])

    def parts(self):
        """What a worker hands to the controller: plain JSON."""
        return {"counts": dict(self.counts), "sets": {k: sorted(v) for k, v in self.sets.items()}}

    def merge(self, parts):
        self.counts.update(parts["counts"])
        for key, values in parts["sets"].items():
            self.sets[key].update(values)

    def as_dict(self):
        data = dict(self.counts)
        data.update({k: sorted(v) for k, v in self.sets.items()})
        data["updated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        return data

    def save(self, path=PATH):
        with _LOCK:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
            except (OSError, ValueError):
                data = {}
            data[self.suite] = self.as_dict()
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, path)


def whole_suites(config):
    """Did this pytest run select whole modules (no -k, -m or node ids)?"""
    if config.getoption("keyword", "") or config.getoption("markexpr", ""):
        return False
    return not any("::" in str(arg) for arg in config.args)


def tally_fixture(suite):
    """A module-scoped ``tally`` fixture for a suite: counts while it runs, saved when it ends."""
    @pytest.fixture(scope="module")
    def tally(request):
        counts = Tally(suite)
        yield counts
        if whole_suites(request.config):
            record(request.config, counts)
    return tally


def record(config, counts):
    """Save a suite's tally, or, on an xdist worker, hand it to the controller, which saves the sum of the parts."""
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is None:
        counts.save()
        return
    mine = workeroutput.setdefault("acrpull_figures", {})
    if counts.suite in mine:
        counts.merge(mine[counts.suite])
    mine[counts.suite] = counts.parts()


def save_parts(workers_parts):
    """On the controller: add up every worker's parts of each suite and save each suite once."""
    suites = {}
    for parts in workers_parts:
        for suite, part in parts.items():
            suites.setdefault(suite, Tally(suite)).merge(part)
    for counts in suites.values():
        counts.save()
