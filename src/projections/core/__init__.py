"""The pure rules: functions over frozen dataclasses, with no I/O, environment or clock.

Only the standard library (and ``tzdata`` through :mod:`zoneinfo`) may be imported here; the
live processor, replay and the tests all run this same code.
"""
