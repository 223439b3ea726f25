"""OpenID Connect provider (issue 6, docs/decisions/0006-openid-connect.md)."""
