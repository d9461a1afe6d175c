"""Generative video: Wan / LTX-Video models from local diffusers directories, and the operations built on them."""
