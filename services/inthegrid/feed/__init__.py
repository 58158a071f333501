"""The feed service: one price source -> JetStream, idempotently."""
