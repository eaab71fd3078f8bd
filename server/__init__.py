"""``baheth serve``: an HTTP API and an Arabic web search page over one index (read-only).

The app is in ``server.app`` (``create_app``). Nothing is imported here: the CLI reads
``server.batching`` for ``serve``'s option defaults, and every other command would otherwise
load FastAPI.
"""
