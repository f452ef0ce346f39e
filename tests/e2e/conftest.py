"""End-to-end fixtures: the real az, the extension from its wheel, the simulated Azure."""
import collections
import copy

import pytest

from tests.simulator.harness import Environment, in_sandbox
from tests.simulator.scenarios import build
from tests.simulator.server import LOGIN


def pytest_report_header(config):  # pylint: disable=unused-argument
    from tests.simulator.harness import az_executable
    return "az under test: {}".format(az_executable())


def pytest_configure(config):
    config.addinivalue_line("markers", "oldest_az: also runs on the oldest supported az (tests/e2e/oldest_az.py)")


def pytest_collection_modifyitems(config, items):
    if not in_sandbox() and any("tests/e2e" in str(i.fspath) for i in items):
        raise pytest.UsageError("the end-to-end tests run inside tests/netns.sh (see tests/run.sh)")
    from tests.e2e import oldest_az
    matched = set()
    for item in items:
        for entry in oldest_az.ENTRIES:
            if oldest_az.selects(entry, item.nodeid):
                item.add_marker(pytest.mark.oldest_az)
                matched.add(entry)
    if "oldest_az" in (config.getoption("markexpr") or "") and not config.getoption("keyword"):
        whole = any(i.nodeid.startswith("tests/e2e/test_foundation.py") for i in items)
        stale = [e for e in oldest_az.ENTRIES if e not in matched]
        if whole and stale:
            raise pytest.UsageError("tests/e2e/oldest_az.py names tests that do not exist: {}".format(stale))
        from azext_acrpull.diagnose.catalog import catalog
        uncovered = [c.check_id for c in catalog() if c.check_id not in oldest_az.PER_CHECK]
        if uncovered:
            config.issue_config_time_warning(pytest.PytestWarning(
                "no test in tests/e2e/oldest_az.py runs these checks on the oldest azure-cli: {}".format(
                    ", ".join(uncovered))), stacklevel=2)


@pytest.fixture(scope="session")
def azenv():
    env = Environment()
    yield env
    env.close()


class Scenario:
    """One scenario loaded into the simulator, with helpers to run az against it."""

    def __init__(self, env, name):
        self.env, self.name = env, name
        self.world = env.load(build(name))

    @property
    def sim(self):
        return self.env.sim

    def az(self, *args):
        return self.env.run(*args)

    def diagnose(self, *args, command="run", cluster=("-g", "rg1", "-n", "aks1")):
        """Run a diagnosis with JSON output; return (findings, result)."""
        self.sim.clear_log()
        result = self.env.run("aks", "diagnose-pull", command, *cluster, *args, "-o", "json")
        assert result.rc == 0, result
        assert "Traceback" not in result.stderr, result
        return result.json(), result

    def statuses(self, findings, check_id):
        return [(f["target"], f["status"]) for f in findings if f["checkId"] == check_id]

    def status_of(self, findings, check_id, target_prefix=""):
        matched = [f for f in findings if f["checkId"] == check_id and f["target"].startswith(target_prefix)]
        assert matched, "no {} finding for {!r} in {}".format(check_id, target_prefix, findings)
        return matched[0]

    def assert_read_only(self):
        writes = self.sim.writes()
        assert not writes, "the diagnosis wrote: {}".format(writes)

    def assert_no_duplicate_reads(self):
        """No GET, and no POST that reads (Resource Graph, Graph's getByIds, ARM's list actions, a registry's token
        requests), sent twice with the same URL and body. Sign-ins are counted apart (test_performance)."""
        reads = collections.Counter((e["method"], e["host"], e["path"], tuple(sorted(e["query"].items())),
                                     e.get("bodyDigest") if e["method"] == "POST" else None)
                                    for e in self.sim.log if e["method"] == "GET" or (
                                        e["method"] == "POST" and e["host"] != LOGIN and
                                        not e["path"].endswith("/runCommand")))
        dupes = [k for k, n in reads.items() if n > 1]
        assert not dupes, "fetched more than once: {}".format(dupes)

    def assert_no_unknown_routes(self):
        assert not self.sim.unknown(), "requests the simulator does not know: {}".format(self.sim.unknown())


@pytest.fixture
def scenario(azenv):
    def load(name):
        return Scenario(azenv, name)
    return load


_SHARED = {}


def shared_run(scenario, name, key, run):
    """``run(sc)`` on scenario ``name`` as just loaded, made once per test process for each ``key`` (the arguments):
    tests that assert on different parts of one result share the az invocation. Each caller gets the scenario
    loaded afresh (its own later runs see the scenario's world), a copy of the result, and the shared run's request
    log in ``sc.sim.log``. Only for runs on an unchanged scenario: whatever a test changes before the run is not
    part of the key."""
    sc = scenario(name)
    if (name, key) not in _SHARED:
        _SHARED[(name, key)] = (run(sc), list(sc.sim.log))
    else:
        sc.sim.restore_log(_SHARED[(name, key)][1])
    return sc, copy.deepcopy(_SHARED[(name, key)][0])
