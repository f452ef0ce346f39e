"""The README's commands work as typed: the first block is the demo and the test command, and the install
command finds the wheel where the build command puts it, under the version setup.py builds."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def _blocks(text, lang):
    return re.findall(r"```{}\n(.*?)```".format(lang), text, re.DOTALL)


def _commands(block):
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def test_demo_and_tests_are_the_first_two_commands():
    first = _commands(_blocks(_read("README.md"), "bash")[0])
    assert first == ["bash scripts/demo.sh", "bash tests/run.sh"], first


def test_install_command_finds_the_wheel_the_build_command_writes():
    version = re.search(r'^VERSION = "([^"]+)"', _read("setup.py"), re.MULTILINE).group(1)
    install = _read("README.md").split("## Install", 1)[1].split("\n## ", 1)[0]
    commands = [c for b in _blocks(install, "bash") for c in _commands(b)]
    build = next(c for c in commands if " wheel " in c)
    add = next(c for c in commands if c.startswith("az extension add"))
    out_dir = re.search(r"-w (\S+)", build).group(1)
    assert build.split()[-1] == "." and "--no-deps" in build, build
    source = re.search(r"--source (\S+)", add).group(1)
    assert os.path.normpath(source) == os.path.normpath(os.path.join(out_dir, "acrpull-{}-py3-none-any.whl".format(
        version))), (build, add)
    assert "--yes" in add   # without a terminal az refuses to install a preview extension otherwise


def test_install_names_the_oldest_az_the_metadata_allows():
    import json
    meta = json.loads(_read("azext_acrpull/azext_metadata.json"))
    oldest = meta["azext.minCliCoreVersion"]
    assert "azure-cli {}".format(oldest) in _read("README.md")
    assert "azure-cli=={}".format(oldest) in _read("requirements-oldest-az.txt")


def test_demo_scenarios_named_in_the_readme_exist():
    from tests.simulator.scenarios import SCENARIOS
    top = _read("README.md").split("## What it does", 1)[0]
    named = re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", top)
    assert named and [n for n in named if n not in SCENARIOS] == [], named


def test_example_tables_fit_120_columns():
    """Every az table the README shows (a header over a rule of dashes) fits a 120-column terminal; the summary
    lines under it (WARNING: ...) are prose the terminal wraps."""
    tables = [b for b in _blocks(_read("README.md"), "text") if re.search(r"^-{4,}  -{4,}", b, re.MULTILINE)]
    assert len(tables) >= 4, "the README shows run, list-checks, fix and fleet tables"
    for block in tables:
        rows = [line for line in block.splitlines() if not line.startswith(("$ ", "WARNING: ", "  "))]
        assert max(len(line) for line in rows) <= 120, block
