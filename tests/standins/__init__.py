"""Stand-in Slack, Jira, GitHub and webhook API servers on loopback, for tests (fixtures in ``plugin.py``)."""
