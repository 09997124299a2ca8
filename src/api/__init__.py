"""The HTTP edge: every route of the Application API (``/v1``) and the Admin API
(``/admin/v1``), authentication and key scope, rate and body limits, error mapping, request
parsing and the presenters of Trophy's JSON. It calls :mod:`ingest` for writes and the
projection's stores for reads; :func:`api.app.create_app` builds the application from them."""
