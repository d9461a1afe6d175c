"""The plate layer: what every operation on a plate shares, so interpolation and the generative ops cannot drift.

One module per concern: `sources` (checking the source frames), `reading` (decoding them and placing them on a
window), `outputs` (output paths and the one output check), `frames` (the resume rule and the run over output
frames), `provenance` (a written frame's header), `writing` (writing a frame), `progress` (progress and cancel) and
`result` (what a run did). It imports errors, io and color only; the operations import it, never the reverse.
"""
