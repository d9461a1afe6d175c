"""`python -m dreamplate.cli`: the same as the `dreamplate` command (used where no console script is on PATH)."""

from dreamplate.cli import main

main()
