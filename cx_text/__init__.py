"""cx-text: turn NPS survey comments and complaints into ranked, actionable themes."""

__version__ = "0.1.0"
