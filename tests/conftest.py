"""Hypothesis settings for the whole suite: the machine running it may be busy (CI has two cores), so property
tests judge the examples, not the clock: no per-example deadline and no health check on slow input generation.
And, when pytest-xdist spreads the tests over workers (tests/run.sh), the reliability figures' parts are added up."""
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("acrpull", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("acrpull")

_FIGURES = pytest.StashKey[list]()


# Under pytest-xdist (tests/run.sh) the reliability suites' figures come back from each worker: the controller
# saves their sum once the workers are done (tests/e2e/figures.py).
@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # pylint: disable=unused-argument
    parts = getattr(node, "workeroutput", {}).get("acrpull_figures")
    if parts:
        node.config.stash.setdefault(_FIGURES, []).append(parts)


def pytest_sessionfinish(session):
    parts = session.config.stash.get(_FIGURES, None)
    if parts:
        from tests.e2e.figures import save_parts
        save_parts(parts)
