#!/usr/bin/env python3
"""Write the reliability suites' figures (tests/.artifacts/figures.json, written by tests/e2e/test_faults.py,
test_bad_input.py, test_secrets.py and test_read_only.py as they run) into README.md, between
<!-- figures:begin --> and <!-- figures:end -->. Nothing is typed by hand: run the suites, then this.

    python scripts/figures.py [--figures FILE] [--readme FILE] [--check]

--check exits 1 when the README's section differs from what the figures say (and changes nothing).
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"


def _n(data, key):
    return int(data.get(key, 0))


def render(figures):
    rows = []
    faults = figures.get("faults")
    if faults:
        rows.append(("Faults", "{} injected into {} dependencies ({}); {} survived: the run finished, the affected "
                     "checks said Error and why, the others were unchanged, exit 0 (3 for a 404 on a named "
                     "resource, 1 with `az login` advice when Entra ID refuses the sign-in), no traceback; {} "
                     "transient faults retried within 4 attempts, {} one-off 503s absorbed by a retry{}".format(
                         _n(faults, "injected"), len(faults.get("dependencies", [])),
                         ", ".join(faults.get("faults", [])), _n(faults, "survived"), _n(faults, "retried"),
                         _n(faults, "absorbed"),
                         "; {} survived, but another check gave a wrong verdict (a known defect, xfail)".format(
                             _n(faults, "known_defects")) if _n(faults, "known_defects") else ""),
                     faults.get("updated", "")))
    bad = figures.get("bad-input")
    if bad:
        rows.append(("Bad input", "{} inputs tried, {} answered as they should: {} right forms of --acr diagnosed "
                     "(exit 0); the wrong ones with one ERROR line that says what to do and no traceback, exit 2 "
                     "for {} (refused before any request), exit 3 for {} (not found), exit 1 for {}".format(
                         _n(bad, "tried"), _n(bad, "answered"), _n(bad, "right_forms"), _n(bad, "exit2"),
                         _n(bad, "exit3"), _n(bad, "exit1")), bad.get("updated", "")))
    secrets = figures.get("secrets")
    if secrets:
        rows.append(("Secrets", "{} secret values planted as unique markers; {} runs: {} commands in every output "
                     "format (check-* in json and table, as they share run's renderers), with --verbose and --debug, "
                     "and {} more scenarios holding pull secrets with --debug; {} outputs scanned; {} leaks".format(
                         _n(secrets, "planted"), _n(secrets, "runs"), len(secrets.get("commands", [])),
                         len(secrets.get("scenarios", [])), _n(secrets, "outputs_scanned"), _n(secrets, "leaked")),
                     secrets.get("updated", "")))
    ro = figures.get("read-only")
    if ro:
        per = ", ".join("{} {}".format(k[len("runs_"):].replace("_", "-"), v) for k, v in sorted(ro.items())
                        if k.startswith("runs_"))
        rows.append(("Read-only", "{} scenarios, {} diagnoses ({}), {} requests; {} writes seen".format(
            _n(ro, "scenarios"), _n(ro, "runs"), per, _n(ro, "requests"), _n(ro, "writes")), ro.get("updated", "")))
    if not rows:
        return "(no figures yet: run `bash tests/run.sh`)"
    lines = ["| suite | figures | measured |", "|---|---|---|"]
    lines += ["| {} | {} | {} |".format(name, text, when) for name, text, when in rows]
    return "\n".join(lines)


def update(readme_text, section):
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme_text):
        raise SystemExit("README has no {} ... {} section".format(BEGIN, END))
    return pattern.sub(lambda _: "{}\n{}\n{}".format(BEGIN, section, END), readme_text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", default=os.path.join(ROOT, "tests", ".artifacts", "figures.json"))
    parser.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    try:
        with open(args.figures, encoding="utf-8") as f:
            figures = json.load(f)
    except (OSError, ValueError) as err:
        print("no figures to write ({}); run the tests first".format(err), file=sys.stderr)
        return 0 if not args.check else 1
    with open(args.readme, encoding="utf-8") as f:
        text = f.read()
    new = update(text, render(figures))
    if args.check:
        return 0 if new == text else 1
    if new != text:
        with open(args.readme, "w", encoding="utf-8") as f:
            f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
