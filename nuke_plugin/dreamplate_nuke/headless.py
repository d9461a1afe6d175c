"""`nuke -t /path/to/dreamplate_nuke/headless.py comp.nk NODE [NODE ...]`: render dreamplate nodes without a GUI.

Opens the script, renders each named node in turn (blocking, one progress line per change) and exits 1 with the
server's reason on the first failure, so farm jobs and TD scripts see a real exit status.
"""

from __future__ import annotations

import os
import sys


def main(argv: list) -> int:
    if len(argv) < 2:
        print("usage: nuke -t headless.py SCRIPT.nk NODE [NODE ...]", file=sys.stderr)
        return 2
    import nuke

    from dreamplate_nuke.render import render_nodes

    nuke.scriptOpen(argv[0])
    return render_nodes(argv[1:])


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main(sys.argv[1:]))
