"""Octopus Photos: an event-sourced photo library that runs on a 2-core laptop."""

__version__ = "0.1.0"
