"""``dataqueue mcp``: a Model Context Protocol server over the docs and a live queue."""

from dataqueue.mcp.server import create_server

__all__ = ["create_server"]
