"""Posting reports: ``post``, ``run``/``replay --post`` and the sinks, against the stand-in API servers."""
