"""dreamplate: generative video for VFX on scene-linear EXR plates."""

__version__ = "0.1.0"
