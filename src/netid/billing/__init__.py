"""netid.billing."""
