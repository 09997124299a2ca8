"""Storage adapters for projections and configuration: PostgreSQL and an in-memory twin."""
