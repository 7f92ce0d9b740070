"""cx-text: turn NPS survey comments and complaints into ranked, actionable themes.

>>> from cx_text import analyze
>>> result = analyze(frame, text="comment", score="score")  # doctest: +SKIP
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Analysis", "analyze"]


def __getattr__(name: str) -> Any:
    """`analyze` and `Analysis` load the pipeline on first use (`import cx_text` stays light)."""
    if name in __all__:
        from cx_text import api

        return getattr(api, name)
    raise AttributeError(f"module 'cx_text' has no attribute {name!r}")
