"""dreamplate's operations, each declared once: the CLI, `/v1/ops`, the server's path policy and the hosts' nodes
are built from these registrations. Import strings keep the lookup light: an operation's code loads when it runs."""

from __future__ import annotations

from dreamplate.ops.registry import OPS, Op, Route

__all__ = ["OPS", "Op", "Route"]

OPS.register(
    Op(
        name="interpolate",
        title="Interpolate",
        summary="in-betweens, retimes and frame-rate changes of an EXR plate (learned, flow, blend or frame)",
        spec="dreamplate.interp.spec:InterpolateSpec",
        run="dreamplate.interp.retime:run_interpolate",
        frames="dreamplate.interp.retime:plan_output_frames",
        argument="inputs",
        roles=("plate",),
        routes=(
            Route(
                field="method",
                value="generative",
                to="keyframes",
                convert="dreamplate.ops.routes:generative_interpolation",
                fields=("prompt", "seed", "steps"),
            ),
        ),
    )
)
OPS.register(
    Op(
        name="relight",
        title="Relight",
        summary="relight / restyle a plate with a video-to-video model (Wan, LTX-Video), optionally inside a matte",
        spec="dreamplate.gen.spec:RelightSpec",
        run="dreamplate.gen.relight:run_relight",
        frames="dreamplate.gen.relight:relight_frames",
        argument="plate",
        roles=("plate",),
    )
)
OPS.register(
    Op(
        name="sketch",
        title="Sketch to shot",
        summary="a blocking pass or rough render made into a finished shot (Wan VACE control video, else v2v)",
        spec="dreamplate.gen.spec:SketchSpec",
        run="dreamplate.gen.sketch:run_sketch",
        frames="dreamplate.gen.sketch:sketch_frames",
        argument="blocking",
        roles=("blocking",),
    )
)
OPS.register(
    Op(
        name="keyframes",
        title="Keyframes",
        summary="frames generated between two or more keyframes, passing exactly through each",
        spec="dreamplate.gen.spec:KeyframesSpec",
        run="dreamplate.gen.keyframes:run_keyframes",
        frames="dreamplate.gen.keyframes:keyframes_frames",
        argument=None,
        roles=("key A", "key B"),
    )
)
OPS.register(
    Op(
        name="matte",
        title="Matte",
        summary="a salient-subject matte per frame (U2-Netp), steady over time, ready for --mask",
        spec="dreamplate.analyse.spec:MatteSpec",
        run="dreamplate.analyse.matte:run_matte",
        frames="dreamplate.analyse.matte:matte_frames",
        argument="plate",
        roles=("plate",),
    )
)
OPS.register(
    Op(
        name="edges",
        title="Edges",
        summary="line art per frame (HED) of a plate or rough render, white on black, e.g. a sketch control video",
        spec="dreamplate.analyse.spec:EdgesSpec",
        run="dreamplate.analyse.edges:run_edges",
        frames="dreamplate.analyse.edges:edges_frames",
        argument="render",
        roles=("render",),
    )
)
OPS.register(
    Op(
        name="upscale",
        title="Upscale",
        summary="a plate or draft made 2x or 4x larger by a learned upscaler (Real-ESRGAN), HDR and every channel kept",
        spec="dreamplate.enhance.spec:UpscaleSpec",
        run="dreamplate.enhance.upscale:run_upscale",
        frames="dreamplate.enhance.upscale:upscale_frames",
        argument="plate",
        roles=("plate",),
    )
)
OPS.register(
    Op(
        name="extend",
        title="Extend",
        summary="a plate continued after its last or before its first frame by a video model conditioned on its end",
        spec="dreamplate.gen.extend_spec:ExtendSpec",
        run="dreamplate.gen.extend:run_extend",
        frames="dreamplate.gen.extend:extend_frames",
        argument="plate",
        roles=("plate",),
    )
)
OPS.register(
    Op(
        name="loop",
        title="Loop",
        summary="a plate made to loop seamlessly by a generated bridge back to its first frame, or a still looped",
        spec="dreamplate.gen.extend_spec:LoopSpec",
        run="dreamplate.gen.loop:run_loop",
        frames="dreamplate.gen.loop:loop_frames",
        argument="plate",
        roles=("plate",),
    )
)
OPS.register(
    Op(
        name="judge",
        title="Judge",
        summary="rank candidate sequences against their plate: temporal stability, structure, adherence, prompt",
        spec="dreamplate.judge.spec:JudgeSpec",
        run="dreamplate.judge.run:run_judge",
        frames="dreamplate.judge.run:judge_frames",
        argument=None,
        roles=("plate", "candidate A", "candidate B"),
    )
)
OPS.register(
    Op(
        name="animate",
        title="Animate",
        summary="image to video: a still made into a shot, the still its first frame bit for bit (Wan I2V, VACE, LTX)",
        spec="dreamplate.gen.create_spec:AnimateSpec",
        run="dreamplate.gen.animate:run_animate",
        frames="dreamplate.gen.animate:animate_frames",
        argument="still",
        roles=("still",),
    )
)
OPS.register(
    Op(
        name="generate",
        title="Generate",
        summary="text to video: a plate from a prompt, decoded into a scene-linear colour space and tagged",
        spec="dreamplate.gen.create_spec:GenerateSpec",
        run="dreamplate.gen.generate:run_generate",
        frames="dreamplate.gen.generate:generate_frames",
        argument=None,
        roles=(),
    )
)
OPS.register(
    Op(
        name="reframe",
        title="Reframe",
        summary="a new aspect or size for a plate: its pixels kept where they land, the new area outpainted",
        spec="dreamplate.gen.create_spec:ReframeSpec",
        run="dreamplate.gen.reframe:run_reframe",
        frames="dreamplate.gen.reframe:reframe_frames",
        argument="plate",
        roles=("plate",),
    )
)
OPS.register(
    Op(
        name="paths",
        title="Motion paths",
        summary="strokes drawn on a still say which element moves where; a Wan VACE layout video makes the shot",
        spec="dreamplate.gen.create_spec:PathsSpec",
        run="dreamplate.gen.paths:run_paths",
        frames="dreamplate.gen.paths:paths_frames",
        argument="still",
        roles=("still",),
    )
)
OPS.register(
    Op(
        name="vectors",
        title="Motion vectors",
        summary="a plate written with Nuke motion channels (forward.u/v, backward.u/v) for VectorBlur and friends",
        spec="dreamplate.interp.vectors:VectorsSpec",
        run="dreamplate.interp.retime:run_vectors",
        frames="dreamplate.interp.retime:vectors_frames",
        argument="inputs",
        roles=("plate",),
    )
)
