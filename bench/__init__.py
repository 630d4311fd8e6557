"""Benchmark of the tracker in Debian's Chromium (boot, bytes, long tasks, per-event cost, delivery)."""
