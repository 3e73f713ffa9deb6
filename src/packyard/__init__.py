"""Packyard: a self-hosted Python package index."""
