"""Pure credential formats: JWS, SD-JWT VC, token status lists, QR tokens, network-ID check character (docs/decisions/0005)."""
