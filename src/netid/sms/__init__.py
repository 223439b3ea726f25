"""SMS: the sender interface and its embedded default, an outbox (docs/decisions/0005)."""

from netid.sms.schemas import OutboxMessage, SmsSender, otp_message

__all__ = ["OutboxMessage", "SmsSender", "otp_message"]
