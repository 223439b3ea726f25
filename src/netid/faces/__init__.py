"""netid.faces."""
