"""The Application API's routers (``/v1``): events, users and their reads."""
