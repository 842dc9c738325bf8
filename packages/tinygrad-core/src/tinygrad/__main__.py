"""`python -m tinygrad COMMAND`: command-line entry point (for now: `doctor`)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinygrad", description="tinygrad-core command-line tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    doc = sub.add_parser("doctor", help="report plugins, devices, and why any device is unavailable")
    doc.add_argument("-v", "--verbose", action="store_true", help="include tracebacks of plugin failures")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from tinygrad.doctor import doctor

        return doctor(verbose=args.verbose)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
