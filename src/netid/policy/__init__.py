"""netid.policy."""
