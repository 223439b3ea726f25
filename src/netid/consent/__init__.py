"""netid.consent."""
