"""netid.verification."""
