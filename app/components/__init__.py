"""Reusable console pieces: layout, safe markdown, diff view, timeline entries, small widgets."""
