"""Picture enhancement operations: learned upscaling of plates (Real-ESRGAN through ONNX Runtime)."""
