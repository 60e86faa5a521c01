"""Charge@Large shared library: domain model, status mapping, settings, storage and metrics."""

__version__ = "0.1.0"
