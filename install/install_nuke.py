"""Install the dreamplate Nuke plugin for this user, or print the NUKE_PATH line for a studio deployment.

    python install/install_nuke.py                     # adds a block to ~/.nuke/init.py (run again: no change)
    python install/install_nuke.py --print-nuke-path   # NUKE_PATH=... for a studio's environment
    python install/install_nuke.py --uninstall         # removes the block

The block calls `nuke.pluginAddPath` for `nuke_plugin/` (the nodes, menus and icons) and for `core/` (so Nuke's
Python can `import dreamplate.client`, which needs the standard library only). Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN = "# >>> dreamplate >>>"
END = "# <<< dreamplate <<<"
_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.DOTALL)


def plugin_paths(repo: Path = REPO) -> list[Path]:
    return [repo / "nuke_plugin", repo / "core"]


def init_block(repo: Path = REPO) -> str:
    """The lines added to init.py, between markers so a re-run replaces rather than repeats them."""
    lines = [
        BEGIN,
        "# Added by dreamplate's install/install_nuke.py; run it with --uninstall to remove.",
        "import nuke",
    ]
    lines += [f"nuke.pluginAddPath({str(path)!r})" for path in plugin_paths(repo)]
    return "\n".join([*lines, END]) + "\n"


def install(nuke_home: Path, repo: Path = REPO) -> Path:
    """Write (or refresh) the block in `nuke_home/init.py`; returns that file. Other content is kept as it was."""
    nuke_home.mkdir(parents=True, exist_ok=True)
    init = nuke_home / "init.py"
    text = init.read_text(encoding="utf-8") if init.exists() else ""
    block = init_block(repo)
    if _BLOCK.search(text):
        updated = _BLOCK.sub(lambda _: block, text, count=1)
    else:
        updated = text + ("\n" if text and not text.endswith("\n") else "") + block
    if updated != text:
        init.write_text(updated, encoding="utf-8")
    return init


def uninstall(nuke_home: Path) -> bool:
    """Remove the block; True when there was one."""
    init = nuke_home / "init.py"
    if not init.exists():
        return False
    text = init.read_text(encoding="utf-8")
    updated = _BLOCK.sub("", text)
    if updated == text:
        return False
    init.write_text(updated, encoding="utf-8")
    return True


def nuke_path_line(repo: Path = REPO) -> str:
    return "NUKE_PATH=" + os.pathsep.join(str(path) for path in plugin_paths(repo))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install the dreamplate Nuke plugin.")
    parser.add_argument(
        "--nuke-home", type=Path, default=Path.home() / ".nuke", help="the .nuke folder (default ~/.nuke)"
    )
    parser.add_argument("--print-nuke-path", action="store_true", help="print the NUKE_PATH line and change nothing")
    parser.add_argument("--uninstall", action="store_true", help="remove the block from init.py")
    args = parser.parse_args(argv)
    if args.print_nuke_path:
        print(nuke_path_line())
        return 0
    if args.uninstall:
        removed = uninstall(args.nuke_home)
        print(f"removed the dreamplate block from {args.nuke_home / 'init.py'}" if removed else "nothing to remove")
        return 0
    init = install(args.nuke_home)
    print(f"dreamplate: {init} adds {', '.join(str(p) for p in plugin_paths())}; restart Nuke")
    return 0


if __name__ == "__main__":
    sys.exit(main())
