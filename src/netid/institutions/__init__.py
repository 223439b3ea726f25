"""netid.institutions."""
