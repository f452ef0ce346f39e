"""The catalog is declared once: every declared check has its line, in the contract's table order."""
import importlib
import pkgutil

from azext_acrpull.diagnose import checks as checks_package
from azext_acrpull.diagnose.catalog import CATALOG_ORDER, catalog


def _declared():
    found = {}
    for info in pkgutil.iter_modules(checks_package.__path__):
        module = importlib.import_module("{}.{}".format(checks_package.__name__, info.name))
        for value in vars(module).values():
            if callable(value) and getattr(value, "check", None) is not None and value.__module__ == module.__name__:
                found[value.check.check_id] = value
    return found


def test_every_declared_check_has_its_catalog_line():
    declared = _declared()
    listed = [c.check_id for c in catalog()]
    assert sorted(declared) == sorted(listed)
    assert all(c.func is declared[c.check_id] for c in catalog())


def test_catalog_is_in_order_and_runs_only_implemented_checks():
    listed = [c.check_id for c in catalog()]
    assert listed == [c for c in CATALOG_ORDER if c in listed]
    assert len(set(CATALOG_ORDER)) == len(CATALOG_ORDER)
    assert all(c.catalog_ids == frozenset(listed) for c in catalog())

