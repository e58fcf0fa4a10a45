"""The ``initcourse`` command (also ``python -m initcourse``).

    initcourse grade SUBMISSION... [--out report.csv]   grade submitted exercise notebooks
    initcourse autograder [--out autograder.zip]       build the Gradescope autograder
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    """Parse ``argv`` (default: the command line) and run the sub-command; returns its status."""
    from initcourse.grading import cli, gradescope

    parser = argparse.ArgumentParser(prog="initcourse", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    grade = commands.add_parser(
        "grade", help="grade submitted exercise notebooks",
        description=cli.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_arguments(grade)
    autograder = commands.add_parser(
        "autograder", help="build the Gradescope autograder (a zip to upload)",
        description=gradescope.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    gradescope.add_arguments(autograder)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.command == "autograder":
        return gradescope.build_command(args)
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
