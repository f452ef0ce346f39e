"""Table transformers: what a person reads first is what failed."""
from collections import OrderedDict

_ORDER = {"Fail": 0, "Error": 1, "Warning": 2, "Pass": 3, "Skipped": 4}


def transform_findings(result):
    rows = sorted(enumerate(result or []), key=lambda p: (_ORDER.get(p[1].get("status"), 9), p[0]))
    table = []
    for _, f in rows:
        row = OrderedDict()
        if "cluster" in f:
            row["Cluster"] = f["cluster"].rstrip("/").rsplit("/", 1)[-1]
        row["Status"] = f.get("status")
        row["Check"] = f.get("checkId")
        row["Target"] = f.get("target")
        row["Message"] = f.get("message")
        row["Remediation"] = f.get("remediation")
        table.append(row)
    return table


def transform_catalog(result):
    return [OrderedDict([("Check", c["checkId"]), ("Article", c["article"]), ("Title", c["title"])])
            for c in result or []]


_FIX_ORDER = {"Failed": 0, "Applied": 1, "Planned": 2, "Manual": 3}


def transform_fix(result):
    """`fix` as a table: what failed to apply first, then what changed and what the check says now."""
    rows = sorted(enumerate(result or []), key=lambda p: (_FIX_ORDER.get(p[1].get("status"), 9), p[0]))
    return [OrderedDict([("Status", i.get("status")), ("Check", i.get("checkId")), ("Target", i.get("target")),
                         ("After", i.get("statusAfter")), ("Command", i.get("command")),
                         ("Message", i.get("message"))]) for _, i in rows]
