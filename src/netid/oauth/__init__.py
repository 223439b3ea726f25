"""netid.oauth."""
