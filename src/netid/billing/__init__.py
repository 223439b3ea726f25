"""Billing: a charge per receipt, monthly statements, and signed receipts (电子回执)."""
