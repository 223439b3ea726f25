"""Verification (核验): an approved institution asks whether a person is who it is told, and
gets the least the law and its policy allow — a yes/no by default, a pairwise pseudonym, the
markers, and plaintext claims only where policy allows and the person separately consented.
Every query, answered or refused, is one access record that is also its receipt."""
