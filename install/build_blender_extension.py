"""Build the installable Blender extension zip: the add-on folder plus the vendored stdlib job client.

    python install/build_blender_extension.py [--blender PATH] [--out dist/]

The job client (`core/dreamplate/client.py`) is copied in as `dreamplate_client.py`, a build artifact, so Blender
needs nothing installed. With a `blender` binary (on PATH or `--blender`) the zip is made by
`blender --command extension build`, which also validates the manifest; otherwise an equivalent zip is written
here: the manifest at the root of the archive, as Blender's installer expects.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "blender_addon" / "dreamplate_blender"
CLIENT = REPO / "core" / "dreamplate" / "client.py"
VENDORED_NAME = "dreamplate_client.py"
SKIP_DIRS = {"__pycache__", ".git"}


def stage(folder: Path) -> Path:
    """Copy the extension and the client into `folder`/dreamplate_blender; returns that folder."""
    target = folder / SOURCE.name
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.zip"))
    shutil.copy2(CLIENT, target / VENDORED_NAME)
    return target


def zip_name(manifest: dict) -> str:
    return f"{manifest['id']}-{manifest['version']}.zip"


def write_zip(staged: Path, out_path: Path) -> Path:
    """The zip Blender's installer accepts: the extension's files at the archive root, manifest included."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(staged.rglob("*")):
            if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(staged).parts):
                archive.write(path, path.relative_to(staged).as_posix())
    return out_path


def build(out_dir: Path, blender: str | None = None) -> Path:
    """Build the zip into `out_dir`; with `blender` (a path or name on PATH) through Blender's own builder."""
    manifest = tomllib.loads((SOURCE / "blender_manifest.toml").read_text())
    out_path = out_dir / zip_name(manifest)
    out_path.unlink(missing_ok=True)
    binary = shutil.which(blender) if blender else shutil.which("blender")
    with tempfile.TemporaryDirectory() as scratch:
        staged = stage(Path(scratch))
        if binary:
            out_dir.mkdir(parents=True, exist_ok=True)
            command = [
                binary,
                "--factory-startup",
                "--command",
                "extension",
                "build",
                "--source-dir",
                str(staged),
                "--output-filepath",
                str(out_path),
            ]
            subprocess.run(command, check=True)
            return out_path
        return write_zip(staged, out_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument("--blender", help="the blender binary to build with (default: `blender` on PATH, if any)")
    args = parser.parse_args(argv)
    path = build(args.out, args.blender)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
