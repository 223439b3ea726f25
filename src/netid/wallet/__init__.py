"""The wallet: a stand-in for the phone app that uses only the public HTTP API (docs/decisions/0005)."""
