#!/usr/bin/env bash
# Every GPU figure issue 21 asks for, in one run of under 10 minutes on one CUDA card (an H100/H200-class machine):
#   - the card's name, memory and driver (nvidia-smi);
#   - benchmarks/bench_learned.py --gpu: learned in-betweens per GPU provider (CUDA fp16, TensorRT);
#   - benchmarks/bench_retime_quality.py --speed (issue 19): the fused default, --no-fusion and flow per 960x540
#     in-between with the net on the card (runtime auto: ONNX Runtime, fp16) and the flow candidate on the CPU;
#   - benchmarks/bench_gen.py at real model sizes with random weights (Wan2.1 1.3B, VACE 1.3B, LTX-Video 2B), the
#     draft (half size, steps // 4) and full settings side by side, torch eager vs ONNX Runtime CUDA vs TensorRT, per
#     denoising step and per job, peak VRAM (bench_gen samples the device's used memory).
# Goals to read the figures against: ONNX Runtime / TensorRT at least 1.5x torch eager per transformer step, and a
# draft (about 480x272, 4 steps) of 81 frames in under 30 s.
#
# Usage (repository root, a venv with torch CUDA, onnxruntime-gpu (TensorRT EP) and dreamplate installed):
#     OUT=/some/dir PY=.venv/bin/python benchmarks/gpu_figures.sh
# Figures go to $OUT (default ./gpu_figures): one text log and one JSON per step. Every step has its own time limit,
# so a slow step (a TensorRT engine build) costs its own figures, not the others'. The real-size builds write the full
# UMT5-XXL / T5-XXL text encoders (~14 GB each): they run in parallel on the CPU cores while the GPU times bench_learned.
set -u
OUT=${OUT:-gpu_figures}
PY=${PY:-.venv/bin/python}
MODELS=${MODELS:-/tmp/dreamplate_real_models}
FRAMES=${FRAMES:-81}
STEPS=${STEPS:-8}  # full setting steps (the draft runs steps // 4 = 2); s/step is what compares, not s/job at 30 steps
mkdir -p "$OUT" "$MODELS"
export PYTHONUNBUFFERED=1 DREAMPLATE_MODELS="$MODELS"
started=$(date +%s)
stamp() { echo "[$(($(date +%s) - started)) s] $*" | tee -a "$OUT/gpu_figures.log"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/card.csv"
"$PY" -c "import torch, onnxruntime as o; print(torch.__version__, torch.cuda.get_device_name(0), o.__version__, \
o.get_available_providers())" | tee -a "$OUT/gpu_figures.log"

stamp "build real-size random models (parallel, CPU) and bench_learned --gpu (GPU)"
for kind in wan-t2v wan-vace ltx; do
  timeout 240 "$PY" benchmarks/bench_gen.py --size real --kinds "$kind" --models-dir "$MODELS" --build-only \
    >"$OUT/build_$kind.txt" 2>&1 &
done
timeout 120 "$PY" benchmarks/bench_learned.py --gpu --no-quality --repeats 2 >"$OUT/bench_learned_gpu.txt" 2>&1
stamp "bench_learned rc $?"
timeout 90 "$PY" benchmarks/bench_retime_quality.py --no-sets --no-ball --no-squares --speed --repeats 3 \
  >"$OUT/bench_retime_speed_gpu.txt" 2>&1
stamp "bench_retime_quality --speed rc $?"
wait
stamp "builds done"

# Each kind: torch eager, then ONNX Runtime on every GPU provider installed (TensorRT, CUDA), draft and full.
# The fp16 export (minutes) and a TensorRT engine build show apart in bench_gen's table (export s, load s).
for kind in wan-t2v wan-vace ltx; do
  frames=$FRAMES
  [ "$kind" = ltx ] && frames=121
  timeout 110 "$PY" benchmarks/bench_gen.py --size real --kinds "$kind" --models-dir "$MODELS" --frames "$frames" \
    --steps "$STEPS" --runtime torch onnx --json "$OUT/gen_$kind.json" >"$OUT/gen_$kind.txt" 2>&1
  stamp "bench_gen $kind rc $?"
done
stamp "done; figures in $OUT"
