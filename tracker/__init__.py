"""A browser-side storefront tracker: recommendation-section events delivered to Glood and Genlook.

`tracker.core` is pure Python (CPython and Pyodide); `tracker.browser` runs in a dedicated worker under
Pyodide, fed by a small main-thread sensor (`static/tracker/sensor.js`).
"""

__version__ = "0.2.0"
__all__ = ["__version__"]
