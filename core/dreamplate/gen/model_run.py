"""The model side of one generative run, resolved before anything is written: model, pipeline, sizes, provenance.

relight, sketch and keyframes differ in what they feed the model, not in how it is set up: the pipeline class for
the purpose, the draft-adjusted settings, the plate -> model geometry, the lazily loaded pipeline, the arguments
every call shares and the provenance every generated frame carries. `ModelRun` holds that once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dreamplate.color.model_space import VideoModelSpace, video_model_space
from dreamplate.gen.loader import LazyPipeline
from dreamplate.gen.models import ModelInfo, scheduler_name
from dreamplate.gen.pipeline_call import sequence_length
from dreamplate.gen.plate import ModelGeometry, fit_geometry
from dreamplate.gen.settings import RenderSettings, render_settings, settings_parameters
from dreamplate.gen.spec import GenSpec
from dreamplate.gen.windows import Window, plan_windows
from dreamplate.io.provenance import Provenance


@dataclass
class ModelRun:
    """A resolved model for one run and `purpose`; its pipeline (`pipe`) loads on first use."""

    info: ModelInfo
    purpose: str  # "v2v", "control", "flf2v" or "keyframes"
    pipeline_class: str
    settings: RenderSettings
    geometry: ModelGeometry
    space: VideoModelSpace
    pipe: LazyPipeline
    device: str  # the device as described before the pipeline loads; `pipe.label` says what ran it

    @property
    def method(self) -> str:
        """The provenance method of a generated frame, e.g. "v2v WanVideoToVideoPipeline"."""
        return f"{self.purpose} {self.pipeline_class}"

    def describe(self) -> str:
        """What made the frames, for the result: pipeline class, model, and what ran it."""
        return f"{self.pipeline_class} ({self.info.name or self.info.path.name}) on {self.pipe.label or self.device}"

    def windows(self, frames: int) -> list[Window]:
        """The overlapping windows a plate of `frames` frames runs in, at this run's window and overlap."""
        return plan_windows(frames, self.settings.window, self.settings.overlap, self.info.temporal_multiple)

    def ran_windows(self, windows: list[Window]) -> dict[str, int]:
        """The window and overlap that ran, for log and provenance: the first window's length and the smallest
        overlap of neighbours (0 for one window), not the nominal settings (81 / 20 for a 9-frame Wan shot)."""
        overlaps = [a.start + a.length - b.start for a, b in zip(windows, windows[1:], strict=False)]
        return {"window": windows[0].length, "overlap": min(overlaps, default=0)}

    def parameters(self, spec: GenSpec, **extra: Any) -> dict[str, Any]:
        """The provenance parameters of this run's frames: the spec's settings and what the model side made of them."""
        return settings_parameters(
            spec,
            model_size=list(self.geometry.model_size),
            draft_steps=self.settings.steps,
            scheduler=scheduler_name(self.info.path),
            pipeline=self.pipeline_class,
            space=self.space.name,
            **extra,
        )

    def provenance(
        self,
        operation: str,
        spec: GenSpec,
        parameters: dict[str, Any],
        sources: list[str],
        source_frames: list[float],
        colorspace: str,
        *,
        method: str | None = None,
        strength: float | None = None,
    ) -> Provenance:
        """One frame's provenance; `runtime` is what ran the model once it has loaded (resume checks ignore it)."""
        return Provenance(
            operation=operation,
            method=method or self.method,
            parameters=parameters,
            sources=sources,
            source_frames=source_frames,
            model=self.info.name or str(self.info.path),
            weights_sha256=self.info.weights_sha256,
            seed=spec.seed,
            prompt=spec.prompt,
            strength=strength,
            colorspace=colorspace,
            runtime=self.pipe.label or self.device,
        )

    def call_arguments(self, spec: GenSpec, seed: int) -> dict[str, Any]:
        """The pipeline arguments every call of this run shares; loads the pipeline (the text length needs it)."""
        from dreamplate.gen.pipelines import make_generator

        return {
            "prompt": spec.prompt,
            "negative_prompt": spec.negative_prompt,
            "num_inference_steps": self.settings.steps,
            "guidance_scale": spec.guidance,
            "height": self.geometry.model_size[1],
            "width": self.geometry.model_size[0],
            "generator": make_generator(seed),
            "max_sequence_length": sequence_length(self.pipe.get(), self.info.family),
        }


def prepare_model(spec: GenSpec, info: ModelInfo, purpose: str, plate_size: tuple[int, int]) -> ModelRun:
    """The model side of a run on a plate of `plate_size` (width, height); nothing loads yet.

    Raises ModelError when the model cannot serve `purpose`, JobError for sizes, windows or overlaps it cannot take.
    """
    from dreamplate.gen.pipelines import describe_device, pipeline_class_for

    pipeline_class = pipeline_class_for(info, purpose)
    settings = render_settings(spec, info)
    geometry = fit_geometry(plate_size, info.spatial_multiple, settings.target_size, spec.max_area)
    pipe = LazyPipeline(info, purpose, spec.device, spec.offload, spec.runtime)
    return ModelRun(
        info, purpose, pipeline_class, settings, geometry, video_model_space(), pipe, describe_device(spec.device)
    )
