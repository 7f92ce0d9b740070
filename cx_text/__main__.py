"""`python -m cx_text`: the same command line as `cx-text`."""

from cx_text.cli import main

main()
