"""One module per console page, each with its own small state."""
