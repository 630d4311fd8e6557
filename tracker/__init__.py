"""A browser-side storefront tracker: recommendation-section events delivered to Glood and Genlook.

`tracker.core` is pure Python (CPython and Pyodide); `tracker.browser` runs in the page under PyScript.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
