"""Hacker News as a ThreadSource (source.py): Algolia's items tree, the official API behind it."""

from adapters.hn_source.source import HnConfig, HnSource

__all__ = ["HnConfig", "HnSource"]
