"""The root of Laurel's exception tree for operational failures."""


class LaurelError(Exception):
    """Base class for errors Laurel reports to an operator in words."""


class ConfigurationError(LaurelError):
    """A setting is missing or invalid; the message names it."""


class PrerequisiteMissing(LaurelError):
    """A program the local stack needs is not installed; the message names the package."""


class ServiceFailed(LaurelError):
    """A local service did not start or stop as expected; the message points at its log."""


class StackBlocked(LaurelError):
    """Something outside Laurel keeps the local stack from starting (a port in use, a home the
    database server cannot reach); found before anything was started, the message says what
    and how to move it."""
