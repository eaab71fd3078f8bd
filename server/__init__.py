"""``baheth serve``: an HTTP API and an Arabic web search page over one index (read-only)."""
from server.app import create_app

__all__ = ["create_app"]
