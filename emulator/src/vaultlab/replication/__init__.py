"""Vault Enterprise DR and performance replication for vaultlab nodes.

* :mod:`.models`, :mod:`.filters`, :mod:`.core`, :mod:`.ceremony`: the model (roles, rules,
  persisted state, the DR operation token ceremony);
* :mod:`.stream`, :mod:`.forwarding`: the transport between clusters (WAL stream, forwarded
  writes) on the cluster port;
* :mod:`.wiring`: puts them and ``/v1/sys/replication/*`` (:mod:`vaultlab.api.replication`, HTTP
  only) into a node process.
"""
