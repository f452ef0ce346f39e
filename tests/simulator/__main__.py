"""Serve one scenario: python -m tests.simulator --scenario NAME [--world FILE] [--dump]."""
import argparse
import sys

from .scenarios import SCENARIOS, build
from .world import World


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.simulator")
    parser.add_argument("--scenario", help="a named scenario: " + ", ".join(sorted(SCENARIOS)))
    parser.add_argument("--world", help="a scenario file written by --dump")
    parser.add_argument("--dump", action="store_true", help="print the scenario file and exit")
    parser.add_argument("--list", action="store_true", help="list the named scenarios")
    args = parser.parse_args(argv)
    if args.list:
        for name, (description, _) in sorted(SCENARIOS.items()):
            print("{:32} {}".format(name, description))
        return 0
    world = World.from_json(open(args.world, encoding="utf-8").read()) if args.world else build(args.scenario)
    if args.dump:
        print(world.to_json())
        return 0
    from .harness import serve_forever
    return serve_forever(world)


if __name__ == "__main__":
    sys.exit(main())
