"""Secrets never reach the terminal: across every command of the group, every output format, --verbose and
--debug, nothing az prints holds a secret of the world it diagnosed.

The scenario secrets-everywhere plants a unique marker (the word MARKER) in every secret it holds: the cluster's
client secret, the registry's admin passwords, the kubeconfig token, pull secrets made from the admin user, a
service principal, an ACR token and a refresh token, and an application secret. The scan is generic, so secrets
that other scenarios add are covered too: stdout and stderr must not contain the word MARKER, nor any string of
the world that holds it (or whose base64 or JWT form decodes to one that does), nor a base64 or JWT blob that
decodes to MARKER, nor any token the simulated Azure issued during the run (Entra ID and registry tokens).
The check-* commands return run's findings through run's renderers, so they run in json and table (plus
--verbose and --debug); every other command runs in all seven formats.
"""
import base64
import binascii
import json
import re

import pytest

from tests.e2e.arguments import diagnose_args
from tests.e2e.figures import tally_fixture
from tests.simulator import dataplane
from tests.simulator.scenarios import SCENARIOS
from tests.simulator.scenarios.reliability import SECRETS_ARGS

SCENARIO = "secrets-everywhere"
FORMATS = ("json", "jsonc", "table", "tsv", "yaml", "yamlc", "none")
CLUSTER = ("-g", "rg1", "-n", "aks1")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
BLOB = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")


def _decodings(text):
    """What a string may hide: the base64 (standard or URL-safe) decodings of the whole, of its dot-separated parts
    (JWTs) and of every base64-looking run inside it (a value in a JSON document)."""
    out = []
    parts = [text] + (text.split(".") if "." in text else []) + [m.group(0) for m in BLOB.finditer(text)]
    for part in dict.fromkeys(parts):
        padded = part + "=" * (-len(part) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decode(padded).decode("utf-8")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                continue
            if decoded not in out:
                out.append(decoded)
    return out


def _hides_marker(text, depth=0):
    if "MARKER" in text:
        return True
    return depth < 3 and any(_hides_marker(d, depth + 1) for d in _decodings(text) if d != text)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _strings(v)


def world_secrets(world):
    """Every string of the world that is, or encodes, a marked secret, and every marked secret inside those
    (base64, JWT parts, JSON documents such as .dockerconfigjson, 'user:password' pairs), at any depth."""
    found = set()

    def expand(text, depth=0):
        if text in found or not _hides_marker(text) or depth > 4:
            return
        found.add(text)
        if ":" in text and "MARKER" in text.split(":", 1)[1] and not any(c in text for c in '{"\''):
            expand(text.split(":", 1)[1], depth + 1)   # user:password from an auth field
        for decoded in _decodings(text):
            expand(decoded, depth + 1)
            try:
                inner = json.loads(decoded)
            except ValueError:
                continue
            for item in _strings(inner):
                expand(item, depth + 1)

    for text in _strings(json.loads(world.to_json())):
        expand(text)
    return {s for s in found if len(s) >= 8}


def leaks(text, secrets, issued):
    """What of the secrets shows in ``text``, with a little context for the failure message."""
    found = []

    def note(kind, start):
        found.append("{}: ...{}...".format(kind, text[max(0, start - 60):start + 60].replace("\n", " | ")))
    for m in re.finditer("MARKER", text):
        note("the word MARKER", m.start())
    for secret in secrets:
        index = text.find(secret)
        if index >= 0:
            note("a secret of the world", index)
    for token in issued:
        index = text.find(token)
        if index >= 0:
            note("a token the simulated Azure issued", index)
    for m in JWT.finditer(text):
        note("a JWT (an access or refresh token)", m.start())
    for m in BLOB.finditer(text):
        if any("MARKER" in d for d in _decodings(m.group(0))):
            note("base64 that decodes to a secret", m.start())
    return found


def issued_tokens(env):
    """Tokens handed out so far: the registry's (the data plane keeps them) and Entra ID's (in az's cache)."""
    tokens = set(dataplane.ISSUED)
    try:
        with open(env.config_dir + "/msal_token_cache.json", encoding="utf-8") as f:
            cache = json.load(f)
        tokens.update(t["secret"] for kind in ("AccessToken", "RefreshToken") for t in cache.get(kind, {}).values()
                      if t.get("secret"))
    except (OSError, ValueError, AttributeError):
        pass
    return {t for t in tokens if len(t) >= 16}


def group_commands(env):
    """The commands of `az aks diagnose-pull`, from its help, and the options each accepts."""
    help_text = env.run("aks", "diagnose-pull", "--help").stdout
    names = re.findall(r"^\s{4}([a-z][a-z-]+)\s", help_text.split("Commands:", 1)[1], re.MULTILINE)
    commands = {}
    for name in names:
        text = env.run("aks", "diagnose-pull", name, "--help").stdout
        commands[name] = set(re.findall(r"(--[a-z][a-z-]*)", text))
    return commands


def args_for(options):
    """The secrets scenario's arguments that this command accepts."""
    args = []
    if "--resource-group" in options and "--name" in options:
        args += list(CLUSTER)
    pairs = list(zip(SECRETS_ARGS[::2], SECRETS_ARGS[1::2], strict=True))
    for option, value in pairs:
        if option in options:
            args += [option, value]
    return args


tally = tally_fixture("secrets")


@pytest.fixture(scope="module")
def commands(azenv):
    return group_commands(azenv)


def test_the_scenario_plants_every_kind_of_secret(scenario, tally):
    sc = scenario(SCENARIO)
    secrets = world_secrets(sc.world)
    plain = {s for s in secrets if "MARKER" in s and ":" not in s and "{" not in s}
    kinds = {re.sub(r"-?MARKER.*", "", s.split("~")[-1]) for s in plain}
    assert len(plain) >= 9, sorted(plain)
    for kind in ("sim-login-secret", "sim-admin-pw1", "sim-admin-pw2", "sim-kube-token", "sim-cluster-sp-secret",
                 "sim-sp-secret", "sim-acr-token-password", "sim-acr-refresh", "sim-app-db"):
        assert kind in kinds, (kind, sorted(kinds))
    tally.add(planted=len(plain))


SCANNED = ("run", "check-auth", "check-registry", "check-network", "check-image", "list-checks", "fix", "fleet")


def test_every_command_of_the_group_is_scanned(commands):
    """A command added to the group must be added to SCANNED, so that its outputs are scanned too."""
    assert sorted(commands) == sorted(SCANNED), "scan the new command(s) too: add them to SCANNED"


@pytest.mark.parametrize("command", SCANNED)
def test_no_secret_in_any_output(scenario, tally, commands, command):
    assert command in commands, "the group has no command {}".format(command)
    names = [command]
    sc = scenario(SCENARIO)
    secrets = world_secrets(sc.world)
    runs = 0
    for name in names:
        args = args_for(commands[name])
        if name.startswith("check-"):   # run's findings and renderers: every format is covered there
            variants = [("-o", "json"), ("-o", "table"), ("-o", "json", "--verbose"), ("-o", "table", "--debug")]
        else:
            variants = [("-o", fmt) for fmt in FORMATS] + [("-o", "json", "--verbose"), ("-o", "table", "--debug")]
        if name == "fix":
            variants.append(("-o", "json", "--yes", "--debug"))
        for variant in variants:
            result = sc.az("aks", "diagnose-pull", name, *args, *variant)
            runs += 1
            assert "Traceback" not in result.stderr, result
            issued = issued_tokens(sc.env)
            for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
                found = leaks(text, secrets, issued)
                tally.add(outputs_scanned=1, leaked=len(found))
                assert not found, "az aks diagnose-pull {} {} leaked in {}:\n{}".format(
                    name, " ".join(variant), stream, "\n".join(found[:5]))
    tally.add(runs=runs)
    tally.note(commands=names)


def _holds_pull_secrets(world):
    return any(o.get("kind") == "Secret" for k in world.kube.values() for o in (k.get("objects") or {}).values())


def _with_secrets():
    from tests.simulator.scenarios import build
    return sorted(n for n in SCENARIOS if n != SCENARIO and _holds_pull_secrets(build(n)))


@pytest.mark.parametrize("name", _with_secrets())
def test_no_secret_from_other_scenarios_with_secrets(scenario, tally, name):
    """Every other scenario whose cluster holds Kubernetes secrets, once with --debug (and --probe for a private
    cluster, whose secrets are then read through AKS run command). Scenarios without one are not generated."""
    sc = scenario(name)
    args = diagnose_args(sc.world)
    cluster = next(r for r in sc.world.arm.values() if (r.get("type") or "").lower().endswith("/managedclusters"))
    if ((cluster["properties"].get("apiServerAccessProfile") or {}).get("enablePrivateCluster")):
        args.append("--probe")
    result = sc.az("aks", "diagnose-pull", "run", *args, "-o", "json", "--debug")
    assert "Traceback" not in result.stderr, result
    secrets, issued = world_secrets(sc.world), issued_tokens(sc.env)
    for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        found = leaks(text, secrets, issued)
        tally.add(outputs_scanned=1, leaked=len(found))
        assert not found, "{} leaked in {}:\n{}".format(name, stream, "\n".join(found[:5]))
    tally.add(runs=1)
    tally.note(scenarios=name)
