"""Provenance of a written frame as EXR string attributes, and which source attributes a derived frame keeps.

Provenance is versioned data (`dreamplate/schema`), in the manner of OTIO's schema names: a reader meeting a
newer schema still takes the fields it knows, so frames written by a later dreamplate stay readable.
Every value is a plain `str`, since string attributes survive every EXR tool, Nuke's metadata included;
structured values (parameters, sources, source frames) are JSON.
"""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from dreamplate import __version__
from dreamplate.errors import InputError

logger = logging.getLogger(__name__)

PREFIX = "dreamplate/"

# Source attributes a derived frame must not inherit: the structure the writer sets anew (channels,
# windows, compression and its level, storage type, tiling, chunking, part and view names), pictures and
# tags that describe the old pixels (`preview`, `idManifest`, `deepImageState`), the program that wrote
# them (`software`), and any earlier `dreamplate/*` provenance, which this frame's provenance replaces.
# Everything else (chromaticities, timecode, fps, camera and capture data, comments, custom attributes)
# still holds for a frame made from it.
DROPPED_ATTRIBUTES = frozenset(
    {
        "channels",
        "chunkCount",
        "compression",
        "dataWindow",
        "deepImageState",
        "displayWindow",
        "dwaCompressionLevel",
        "idManifest",
        "lineOrder",
        "maxSamplesPerPixel",
        "multiView",
        "name",
        "preview",
        "software",
        "tiles",
        "type",
        "version",
        "view",
    }
)


def carried_attributes(source: Mapping[str, Any]) -> dict[str, Any]:
    """The source header attributes that still hold for a frame derived from it (see DROPPED_ATTRIBUTES)."""
    return {
        name: value for name, value in source.items() if name not in DROPPED_ATTRIBUTES and not name.startswith(PREFIX)
    }


@dataclass(kw_only=True)
class Provenance:
    """How one output frame was made: operation, method, settings, inputs, model and its pin.

    `source_frames` are the source frame numbers the frame came from, fractional for in-betweens (1001.5).
    `parameters` must be JSON data; other values (paths) are written as their `str`.
    """

    schema: ClassVar[str] = "dreamplate.provenance/1"

    operation: str
    method: str
    parameters: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    source_frames: list[float] = field(default_factory=list)
    model: str | None = None
    weights_sha256: str | None = None
    seed: int | None = None
    prompt: str | None = None
    strength: float | None = None
    colorspace: str | None = None
    runtime: str | None = None  # what executed a model (e.g. "onnxruntime CPUExecutionProvider"); not a setting
    version: str = __version__
    upstream: list[dict[str, Any]] = field(default_factory=list)
    """The provenance its source frames carried (`as_data()`, each with its own `upstream`): the chain back to the
    first frame dreamplate made, e.g. an upscale keeps the draft's prompt, seed and model. Not compared on resume."""

    def as_data(self) -> dict[str, Any]:
        """This provenance as JSON data: its fields by name, unset ones left out; what a derived frame's
        `upstream` holds."""
        data = {
            "schema": self.schema,
            "operation": self.operation,
            "method": self.method,
            "parameters": self.parameters,
            "sources": [str(source) for source in self.sources],
            "source_frames": self.source_frames,
            "model": self.model,
            "weights_sha256": self.weights_sha256,
            "seed": self.seed,
            "prompt": self.prompt,
            "strength": self.strength,
            "colorspace": self.colorspace,
            "runtime": self.runtime,
            "version": self.version,
            "upstream": self.upstream,
        }
        return {key: value for key, value in data.items() if value not in (None, [])}

    def to_attributes(self) -> dict[str, str]:
        """EXR string attributes: `software` plus `dreamplate/*`; optional fields only when set."""
        attributes = {
            "software": f"dreamplate {self.version}",
            f"{PREFIX}schema": self.schema,
            f"{PREFIX}version": self.version,
            f"{PREFIX}operation": self.operation,
            f"{PREFIX}method": self.method,
            f"{PREFIX}parameters": _to_json(self.parameters),
            f"{PREFIX}sources": _to_json([str(source) for source in self.sources]),
            f"{PREFIX}sourceFrames": _to_json(self.source_frames),
        }
        optional = {
            "model": self.model,
            "weightsSha256": self.weights_sha256,
            "seed": self.seed,
            "prompt": self.prompt,
            "strength": self.strength,
            "colorspace": self.colorspace,
            "runtime": self.runtime,
        }
        # str() of a float is its shortest exact form, so strength reads back bit for bit.
        attributes.update({f"{PREFIX}{key}": str(value) for key, value in optional.items() if value is not None})
        if self.upstream:
            attributes[f"{PREFIX}upstream"] = _to_json(self.upstream)
        return attributes

    @classmethod
    def from_attributes(cls, attrs: Mapping[str, Any], name: str = "header") -> Self | None:
        """Provenance from a header's attributes; None when it holds no `dreamplate/*` attribute.

        `name` (the file) heads error messages. Raises InputError when operation or method is missing
        or a value cannot be read; fields unknown to this schema are ignored.
        """
        values = {
            key[len(PREFIX) :]: value.decode() if isinstance(value, bytes) else str(value)
            for key, value in attrs.items()
            if key.startswith(PREFIX)
        }
        if not values:
            return None
        schema = values.get("schema", "")
        if schema != cls.schema:
            logger.debug("%s: provenance schema %r; reading the fields of %s", name, schema, cls.schema)
        for required in ("operation", "method"):
            if required not in values:
                raise InputError(f"{name}: {PREFIX}{required} missing from dreamplate provenance")
        reader = _Reader(name, values)
        return cls(
            operation=values["operation"],
            method=values["method"],
            parameters=reader.json("parameters", dict, {}),
            sources=[str(source) for source in reader.json("sources", list, [])],
            source_frames=reader.frame_numbers("sourceFrames"),
            model=values.get("model"),
            weights_sha256=values.get("weightsSha256"),
            seed=reader.number("seed", int),
            prompt=values.get("prompt"),
            strength=reader.number("strength", float),
            colorspace=values.get("colorspace"),
            runtime=values.get("runtime"),
            version=values.get("version", "unknown"),
            upstream=reader.json("upstream", list, []),
        )


def _to_json(value: Any) -> str:
    """Compact JSON with sorted keys, so equal provenance gives byte-equal headers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass
class _Reader:
    """Reads typed values out of a header's `dreamplate/*` strings, naming the file in errors."""

    name: str
    values: dict[str, str]

    def json(self, key: str, kind: type, default: Any) -> Any:
        """JSON value of `key` that must be of `kind`; `default` when absent."""
        if key not in self.values:
            return default
        try:
            value = json.loads(self.values[key])
        except json.JSONDecodeError as exc:
            raise InputError(f"{self.name}: {PREFIX}{key} is not valid JSON ({exc.msg})") from exc
        if not isinstance(value, kind):
            raise InputError(f"{self.name}: {PREFIX}{key} should be a JSON {kind.__name__}")
        return value

    def frame_numbers(self, key: str) -> list[float]:
        """JSON list of frame numbers under `key` as floats; empty when absent."""
        frames = self.json(key, list, [])
        if not all(isinstance(frame, int | float) and not isinstance(frame, bool) for frame in frames):
            raise InputError(f"{self.name}: {PREFIX}{key} should hold frame numbers only")
        return [float(frame) for frame in frames]

    def number(self, key: str, kind: type[int] | type[float]) -> Any:
        """`key` as an int or float; None when absent."""
        if key not in self.values:
            return None
        try:
            return kind(self.values[key])
        except ValueError as exc:
            raise InputError(f"{self.name}: {PREFIX}{key} is not a number: {self.values[key]!r}") from exc
