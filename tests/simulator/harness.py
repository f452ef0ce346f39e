"""Make the real `az`, with the extension installed from its wheel, talk to the simulated Azure.

Must run inside a private mount and network namespace (see tests/netns.sh) where /etc/hosts is a
writable file of our own: the real Azure host names then resolve to 127.0.0.1, where the simulator
answers on port 443 with certificates from a test CA that az trusts through REQUESTS_CA_BUNDLE.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .server import GRAPH, LOGIN, MANAGEMENT, Simulator
from .world import LOGIN_APP_ID, LOGIN_SECRET, SUBSCRIPTION, TENANT, World

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXED_HOSTS = (MANAGEMENT, LOGIN, GRAPH)


def in_sandbox():
    return os.environ.get("ACRPULL_SANDBOX") == "1"


def az_executable():
    """The az to test: ``ACRPULL_AZ`` (an az executable, e.g. an older azure-cli's venv), else the az installed
    beside the Python that runs the tests."""
    chosen = os.environ.get("ACRPULL_AZ")
    if chosen:
        path = shutil.which(chosen) or chosen
        if not os.access(path, os.X_OK):
            raise RuntimeError("ACRPULL_AZ={!r} is not an az executable".format(chosen))
        return os.path.abspath(path)
    return os.path.join(os.path.dirname(sys.executable), "az")


def build_wheel(out_dir):
    """The wheel exactly as users get it: built from setup.py, without the tests.

    Built from a private copy of the sources, so that runs side by side never share setuptools' build/ folder."""
    src = os.path.join(out_dir, "src")
    shutil.copytree(os.path.join(ROOT, "azext_acrpull"), os.path.join(src, "azext_acrpull"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("setup.py", "README.md", "HISTORY.rst"):
        shutil.copy(os.path.join(ROOT, name), src)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out_dir,
                    src], check=True, cwd=src, stdout=subprocess.DEVNULL)
    wheels = glob.glob(os.path.join(out_dir, "acrpull-*-py3-none-any.whl"))
    if len(wheels) != 1:
        raise RuntimeError("expected one acrpull wheel in {}, found {}".format(out_dir, wheels))
    return wheels[0]


class Result:
    def __init__(self, proc, seconds):
        self.rc, self.stdout, self.stderr, self.seconds = proc.returncode, proc.stdout, proc.stderr, seconds

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return "Result(rc={}, stdout={!r}, stderr={!r})".format(self.rc, self.stdout[-2000:], self.stderr[-2000:])


class Environment:
    """One simulator, one az configuration with the extension installed and logged in."""

    def __init__(self, workdir=None, install=True):
        if not in_sandbox():
            raise RuntimeError("run inside tests/netns.sh (a private network namespace with its own hosts file)")
        import trustme
        self.dir = workdir or tempfile.mkdtemp(prefix="acrpull-e2e-")
        self.ca = trustme.CA()
        self.ca_file = os.path.join(self.dir, "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.config_dir = os.path.join(self.dir, "azure")
        self.extension_dir = os.path.join(self.dir, "extensions")
        os.makedirs(self.config_dir, exist_ok=True)
        os.makedirs(self.extension_dir, exist_ok=True)
        with open(os.path.join(self.config_dir, "versionCheck.json"), "w", encoding="utf-8") as f:
            json.dump({"check_time": "2099-01-01 00:00:00.000000"}, f)
        self.az = az_executable()
        self.env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        self.env.update({
            "AZURE_CONFIG_DIR": self.config_dir, "AZURE_EXTENSION_DIR": self.extension_dir,
            "REQUESTS_CA_BUNDLE": self.ca_file, "AZURE_CORE_INSTANCE_DISCOVERY": "false",
            "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_EXTENSION_USE_DYNAMIC_INSTALL": "no",
            "AZURE_CORE_NO_COLOR": "true", "AZURE_CORE_SURVEY_MESSAGE": "false", "PYTHONWARNINGS": "ignore",
        })
        self.sim = Simulator(self._prepare(World()), self.ca).start()
        self.wheel = None
        if install:
            self.install()

    def _prepare(self, world):
        world.ca_pem = self.ca.cert_pem.bytes().decode()
        with open("/etc/hosts", "w", encoding="utf-8") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
            for host in FIXED_HOSTS + tuple(world.hostnames()):
                address = (getattr(world, "addresses", None) or {}).get(host, "127.0.0.1")
                if address:   # a private address the sandbox cannot reach, or no record at all
                    f.write("{} {}\n".format(address, host))
        return world

    def install(self):
        self.wheel = build_wheel(os.path.join(self.dir, "dist"))
        self.run_ok("extension", "add", "--source", self.wheel, "--yes")
        self.run_ok("login", "--service-principal", "--username", LOGIN_APP_ID, "--password", LOGIN_SECRET,
                    "--tenant", TENANT)
        self.run_ok("account", "set", "--subscription", SUBSCRIPTION)

    def load(self, world):
        self.sim.load(self._prepare(world))
        return world

    def run(self, *args, timeout=300):
        started = time.time()
        # From the environment's own folder: `python -m azure.cli` puts the working directory first on sys.path
        # (az appends extension folders after it), so run from the source tree az would import its azext_acrpull
        # instead of the installed wheel's.
        proc = subprocess.run([self.az, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False, cwd=self.dir)
        return Result(proc, time.time() - started)

    def run_ok(self, *args):
        result = self.run(*args)
        if result.rc != 0:
            raise RuntimeError("az {} failed: {!r}".format(" ".join(args), result))
        return result

    def close(self):
        self.sim.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def serve_forever(world):
    env = Environment(install=False)
    env.load(world)
    print("Simulated Azure serving scenario {!r} on 127.0.0.1:443 (Ctrl-C to stop).".format(world.name))
    print("export AZURE_CONFIG_DIR={} AZURE_EXTENSION_DIR={} REQUESTS_CA_BUNDLE={}".format(
        env.config_dir, env.extension_dir, env.ca_file))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        env.close()
    return 0
