"""The local stack: a real Kafka broker and PostgreSQL cluster run as child processes."""
