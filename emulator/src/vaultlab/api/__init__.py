"""The HTTP layer: Vault's API routes, request parsing and response shapes over the model.

One module per family of endpoints (``sys``, ``auth``, ``kv``, ``generate_root``, ``audit``,
``auth_methods``, ``snapshot``, ``replication``); ``common`` holds the envelope, parsing and
error rendering they share.  The routing table is in :func:`vaultlab.server.build_apps` and
:func:`vaultlab.api.replication.routes`.
"""
