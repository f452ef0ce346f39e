"""Serve one scenario: python -m tests.simulator --scenario NAME [--world FILE] [--dump]."""
import argparse
import sys

from .scenarios import SCENARIOS, build
from .world import World


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.simulator")
    parser.add_argument("--scenario", metavar="NAME", help="a named scenario (--list shows them)")
    parser.add_argument("--world", help="a scenario file written by --dump")
    parser.add_argument("--dump", action="store_true", help="print the scenario file and exit")
    parser.add_argument("--list", action="store_true", help="list the named scenarios")
    args = parser.parse_args(argv)
    if args.list:
        for name, (description, _) in sorted(SCENARIOS.items()):
            print("{:32} {}".format(name, description))
        return 0
    if args.world:
        with open(args.world, encoding="utf-8") as f:
            world = World.from_json(f.read())
    elif args.scenario in SCENARIOS:
        world = build(args.scenario)
    else:
        parser.error("{}name a scenario with --scenario NAME (--list shows them) or give --world FILE".format(
            "no scenario {!r}: ".format(args.scenario) if args.scenario else ""))
    if args.dump:
        print(world.to_json())
        return 0
    from .harness import in_sandbox, serve_forever
    if not in_sandbox():
        print("python -m tests.simulator: serving needs the private network namespace, where Azure's host names "
              "point at 127.0.0.1; run it as root through it: tests/netns.sh .venv/bin/python -m tests.simulator "
              "--scenario {}".format(args.scenario or "NAME"), file=sys.stderr)
        return 2
    return serve_forever(world)


if __name__ == "__main__":
    sys.exit(main())
