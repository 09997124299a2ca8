"""The Admin API's routers (``/admin/v1``): configuration, keys and tenants."""
