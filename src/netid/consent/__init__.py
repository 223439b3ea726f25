"""Separate consent (单独同意): which plaintext claims a person lets one institution receive,
for one purpose, until when. The verification service releases a claim that policy marks
``consent_required`` only if a live consent here covers it."""
