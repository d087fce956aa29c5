"""Producers: put raw articles on ``articles.raw``."""
