"""The event relay: publishes the PostgreSQL outbox to Kafka (`python -m services.events`)."""
