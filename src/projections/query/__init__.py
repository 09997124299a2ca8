"""Read routes of the Application API, over :mod:`projections.store`."""
