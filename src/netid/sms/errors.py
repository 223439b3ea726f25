"""Errors of netid.sms. Messages never carry the phone number or the text."""

from __future__ import annotations

from netid.core.errors import InvalidInput


class SmsInvalid(InvalidInput):
    """A message the sender refuses: not an E.164 phone, an empty or over-long text, or a
    purpose outside the code vocabulary."""

    code = "sms_invalid"
    default_message = "The text message cannot be sent."
