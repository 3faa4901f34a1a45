"""Fakes that really implement the platforms' interfaces, on 127.0.0.1 only."""
