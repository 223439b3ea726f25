"""Network IDs, enrolment (申领), network credentials (网证), wallet sessions and status lists (docs/decisions/0005)."""
