"""Laurel: a self-hosted gamification backend built on an event log.

This package holds the command-line interface, the settings object and the composition
roots that wire :mod:`ingest`, :mod:`processors` and :mod:`projections` together.
"""

__version__ = "0.1.0"
