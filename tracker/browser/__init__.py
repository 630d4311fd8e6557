"""The worker's edge: the only part of the tracker that touches JavaScript (Pyodide in a dedicated worker)."""

from .ffi import start

__all__ = ["start"]
