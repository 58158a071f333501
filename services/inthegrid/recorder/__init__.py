"""Recorder: stores prices and opportunity events from JetStream in PostgreSQL, exactly once by key."""
