"""Analysis operations: pictures *about* a plate rather than new pictures of it (`matte`, `edges`).

Each runs a small published network on ONNX Runtime (U2-Netp for salient-subject mattes, HED for line art) and
writes data EXRs the other operations take as inputs: a matte for `--mask`, line art for a control video. The package
sits beside `interp` and `gen`; the generative ops reach its functions only through import strings resolved at run
time, so neither package imports the other.
"""
