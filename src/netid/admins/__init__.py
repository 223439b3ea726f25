"""Administrators (issue 4 §2, 三员分立): accounts with one role each, password (argon2id) +
TOTP (RFC 6238) login, lockout with growing delays, and the role × action matrix."""
