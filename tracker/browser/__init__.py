"""The browser layer: the only part of the tracker that touches JavaScript (Pyodide/PyScript)."""

from .app import BrowserTracker, start

__all__ = ["BrowserTracker", "start"]
