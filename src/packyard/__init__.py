"""Packyard: a self-hosted Python package index."""

__version__ = "0.1.0"
