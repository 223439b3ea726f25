"""Citizen controls: method locks, own history, pending requests, deregistration (docs/decisions/0005)."""
