"""SMS: the sender interface and its embedded default, an outbox (docs/decisions/0005)."""
