"""Adapters to other frameworks; each module is imported only by those who use it."""
