"""The pure-Python core of the tracker: no JavaScript, runs in CPython and Pyodide alike."""

from .batching import Body, Budget
from .clock import Clock, SystemClock
from .config import Config, ConfigError
from .events import EVENT_NAMES, Event, PageContext, ProductRef, SectionTrack, TrackError
from .pipeline import FlushReport, Pipeline
from .retry import Backoff
from .storage import MemoryStorage, Storage
from .transport import Transport
from .viewability import Viewability

__all__ = [
    "Backoff", "Body", "Budget", "Clock", "Config", "ConfigError", "EVENT_NAMES",
    "Event", "FlushReport", "MemoryStorage", "PageContext", "Pipeline",
    "ProductRef", "SectionTrack", "Storage", "SystemClock", "TrackError", "Transport", "Viewability",
]
