"""The README's demo: a broken cluster in the simulated Azure, diagnosed by the real az."""
import argparse
import sys

from tests.simulator.harness import Environment
from tests.simulator.scenarios import SCENARIOS, build


def main():
    parser = argparse.ArgumentParser(prog="scripts/demo.sh")
    parser.add_argument("--scenario", default="demo-stuck", choices=sorted(SCENARIOS), metavar="NAME",
                        help="the scenario to diagnose (default demo-stuck; --list shows them all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios with what each one breaks")
    parser.add_argument("az_args", nargs="*", help="extra arguments for az aks diagnose-pull run")
    args = parser.parse_args()
    if args.list:
        for name, (description, _) in sorted(SCENARIOS.items()):
            print("{:32} {}".format(name, description))
        return 0
    print("Installing the extension into a fresh az and starting the simulated Azure...", flush=True)
    env = Environment()
    try:
        env.load(build(args.scenario))
        print("Scenario {}: {}\n".format(args.scenario, SCENARIOS[args.scenario][0]))
        # The first command a person runs names only the cluster: the failing pods are found first.
        command = ["aks", "diagnose-pull", "run", "-g", "rg1", "-n", "aks1", "-o", "table"]
        command += args.az_args
        print("$ az " + " ".join(command), flush=True)
        result = env.run(*command)
        sys.stdout.write(result.stdout)
        sys.stdout.write(result.stderr)
        return result.rc
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
