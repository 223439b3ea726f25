"""Password accounts for people without the wallet (docs/decisions/0006 "Without a wallet").

Document number + password (argon2id) + a 6-digit code sent to the phone in the registry;
the password is set (and reset) with the document number and a code to that phone.
"""
