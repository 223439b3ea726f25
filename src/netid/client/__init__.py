"""A relying party's side of netid, in plain HTTP: what a bank's or a hotel's integration does.

``netid client verify`` and ``examples/verify_id2.py`` use it. It needs nothing of the server
but its public API: a client file (client id, private JWK, token endpoint, API base) is all."""
