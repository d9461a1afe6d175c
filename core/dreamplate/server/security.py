"""What keeps the server safe to run on a workstation: its token, and the folders a job may read and write.

The token comes from `$DREAMPLATE_TOKEN`, else from a file in the user config dir created on first start with mode
0600 (the client reads the same file). Every path in a job (every setting its operation declares as a path, and
its model) is first mapped from the submitting machine's spelling (`--map 'Z:\\shows=/mnt/shows'`), then resolved,
symlinks and `..` included, and must land inside one of the `--root` folders (a model may also lie in a
`--models-root`); a frame pattern is checked by its folder and by every existing file it names, so a symlinked frame
cannot point outside either. Nothing is read or written before every path has passed.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamplate.client import swap_prefix
from dreamplate.errors import DreamplateError
from dreamplate.jobs.spec import JobSpec, task_spec
from dreamplate.ops.fields import field_kind, map_paths
from dreamplate.runtime.weights import model_dirs
from dreamplate.userdirs import config_dir

log = logging.getLogger(__name__)

TOKEN_ENV = "DREAMPLATE_TOKEN"
TOKEN_FILE = "token"
_FRAME_TOKEN = re.compile(r"#+|@+|%\d*d")


class ForbiddenPathError(DreamplateError):
    """A job path outside every `--root` folder (after mapping, symlinks and `..`): refused with 403."""


# --- token ------------------------------------------------------------------------------------------------------------


def token_path() -> Path:
    """Where the generated token lives; `dreamplate.client` looks in the same place."""
    return config_dir() / TOKEN_FILE


@dataclass(frozen=True)
class Token:
    """The server's token and where it came from, for the start-up message."""

    value: str
    source: str  # "$DREAMPLATE_TOKEN" or the file's path
    created: bool  # generated just now (first start): the CLI prints it once


def load_or_create_token() -> Token:
    """`$DREAMPLATE_TOKEN`, else the token file, else a new random token written there with mode 0600."""
    value = os.environ.get(TOKEN_ENV, "").strip()
    if value:
        return Token(value, f"${TOKEN_ENV}", created=False)
    path = token_path()
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if value:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            log.warning("%s: readable by other users; run chmod 600 on it", path)
        return Token(value, str(path), created=False)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    # O_EXCL: two servers starting at once must not each write a token and leave the other's clients locked out.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Token(path.read_text().strip(), str(path), created=False)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return Token(value, str(path), created=True)


def token_matches(authorization: str | None, token: str) -> bool:
    """True when the `Authorization` header is `Bearer <token>`; compared in constant time."""
    if not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


# --- path mapping and roots -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathMap:
    """`CLIENT_PREFIX=SERVER_PREFIX`: a path the submitting machine sees, and where the server sees the same files."""

    client: str
    server: str

    def apply(self, path: str) -> str | None:
        """`path` with the client prefix swapped for the server's, or None when the prefix does not match."""
        return swap_prefix(path, self.client, self.server)


def parse_map(text: str) -> PathMap:
    """`CLIENT=SERVER` from the command line; ValueError with a one-line reason when malformed."""
    client, sep, server = text.partition("=")
    if not sep or not client.strip() or not server.strip():
        raise ValueError(f"--map {text!r}: give CLIENT_PREFIX=SERVER_PREFIX, e.g. 'Z:\\shows=/mnt/shows'")
    if not Path(server).is_absolute():
        raise ValueError(f"--map {text!r}: the server prefix {server!r} must be an absolute path")
    return PathMap(client.strip(), server.strip())


class PathPolicy:
    """The `--root` folders and `--map` rules: maps a job's paths and refuses any that lead outside the roots."""

    def __init__(
        self, roots: list[Path], maps: list[PathMap] | None = None, model_roots: list[Path] | None = None
    ) -> None:
        if not roots:
            raise ValueError("at least one --root folder is needed")
        self.roots = [Path(root).resolve() for root in roots]
        # Models may also live in folders jobs cannot write to: `--models-root`, else dreamplate's model store.
        self.model_roots = [Path(root).resolve() for root in (model_roots if model_roots else model_dirs())]
        # Longest client prefix first, so `/Volumes/shows/x` wins over `/Volumes/shows`.
        self.maps = sorted(maps or [], key=lambda m: len(m.client), reverse=True)

    def map_path(self, path: str) -> str:
        """The server's spelling of a client path (unchanged when no rule matches)."""
        for rule in self.maps:
            mapped = rule.apply(path)
            if mapped is not None:
                return mapped
        return path

    def check_path(self, path: str, what: str) -> str:
        """Map `path`, refuse it unless it resolves inside a root; returns the mapped path (as the job will use it)."""
        mapped = self.map_path(path)
        shown = path if mapped == path else f"{path} (mapped to {mapped})"
        candidate = Path(mapped)
        if not candidate.is_absolute():
            raise ForbiddenPathError(f"{what} {shown}: must be an absolute path")
        if _FRAME_TOKEN.search(candidate.name):
            self._check_inside(candidate.parent, what, shown)
            for frame_file in _pattern_files(candidate):
                self._check_inside(frame_file, what, f"{shown}: {frame_file.name}")
        else:
            self._check_inside(candidate, what, shown)
        return mapped

    def check_job(self, job: JobSpec) -> JobSpec:
        """The job with every path mapped; ForbiddenPathError when any is outside the roots (JobError if invalid).

        Which settings are paths comes from the operation's declaration alone (`FramePattern`, `FilePath`,
        `KeyframeFiles` fields, inputs and output included), so an operation or a setting added later is covered
        without a change here. A model (`ModelRef`) must lie inside a root or a models root, whether the job names
        its folder or a registered name.
        """
        spec = task_spec(job)
        mapped = map_paths(spec, lambda path, where: self.check_path(path, where))
        for name, info in type(spec).model_fields.items():
            kind = field_kind(info)
            value = getattr(spec, name)
            if kind is not None and kind.name == "model" and value is not None:
                mapped[name] = self.check_model(str(value), name)
        params = dict(job.params)
        params.update({name: value for name, value in mapped.items() if name in params})
        update = {"params": params, "output": mapped.get("output", job.output)}
        if "inputs" in mapped:
            update["inputs"] = mapped["inputs"]
        return job.model_copy(update=update)

    def check_model(self, value: str, what: str) -> str:
        """A model named by registration or by folder, refused unless its folder resolves inside a root or a
        models root; returns the value as the job will use it (a name stays a name, a folder is mapped)."""
        from dreamplate.gen.models import registered_models  # the registry file only; no model loads

        registered = registered_models()
        if value in registered:
            self._check_inside(registered[value], what, f"{value} (registered as {registered[value]})", models=True)
            return value
        mapped = self.map_path(value)
        shown = value if mapped == value else f"{value} (mapped to {mapped})"
        if not Path(mapped).is_absolute():
            raise ForbiddenPathError(f"{what} {shown}: not a registered model, and a model folder must be absolute")
        self._check_inside(Path(mapped), what, shown, models=True)
        return mapped

    def _check_inside(self, path: Path, what: str, shown: str, models: bool = False) -> None:
        try:
            resolved = path.resolve()
        except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a symlink loop, a name too long
            raise ForbiddenPathError(f"{what} {shown!r}: cannot be resolved ({exc})") from None
        allowed = [*self.roots, *self.model_roots] if models else self.roots
        if not any(resolved == root or resolved.is_relative_to(root) for root in allowed):
            roots = ", ".join(str(root) for root in allowed)
            where = "roots and models roots" if models else "roots"
            raise ForbiddenPathError(f"{what} {shown}: resolves to {resolved}, outside the server's {where} ({roots})")

    def describe(self) -> dict[str, Any]:
        return {
            "roots": [str(r) for r in self.roots],
            "models_roots": [str(r) for r in self.model_roots],
            "maps": [f"{m.client}={m.server}" for m in self.maps],
        }


def _pattern_files(pattern: Path) -> list[Path]:
    """Existing files a frame pattern names (any frame number), so each can be checked for a symlink escape."""
    folder = pattern.parent
    if not folder.is_dir():
        return []
    parts = _FRAME_TOKEN.split(pattern.name)
    name = re.compile(r"-?\d+".join(re.escape(part) for part in parts))
    return [folder / entry.name for entry in os.scandir(folder) if name.fullmatch(entry.name)]
