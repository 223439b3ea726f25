"""Errors of key management. Messages never contain key material."""

from __future__ import annotations

from netid.core.errors import ConfigurationError, Conflict, NetidError, NotFound


class KeyManagementError(NetidError):
    code = "key_error"
    default_message = "A key management operation failed."


class MasterKeyMissing(ConfigurationError):
    code = "master_key_missing"
    default_message = (
        "No master key: set NETID_MASTER_KEY_FILE or NETID_MASTER_KEY, or run 'netid keys init'."
    )


class MasterKeyInvalid(ConfigurationError):
    code = "master_key_invalid"
    default_message = "The master key is malformed, unreadable, or readable by other users."


class MasterKeyMismatch(ConfigurationError):
    code = "master_key_mismatch"
    default_message = "The keyring was wrapped under a different master key."


class KeyringNotInitialised(ConfigurationError):
    code = "keyring_not_initialised"
    default_message = "The keyring is empty: run 'netid keys init'."


class KeyringAlreadyInitialised(Conflict):
    code = "keyring_already_initialised"
    default_message = "The keyring already holds keys."


class KeyNotFound(NotFound):
    code = "key_not_found"
    default_message = "No such key."


class KeyStillInUse(Conflict):
    code = "key_still_in_use"
    default_message = "The key still protects data; finish the rotation before retiring it."
