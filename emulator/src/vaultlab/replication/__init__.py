"""Vault Enterprise DR and performance replication for vaultlab nodes.

* :mod:`.models`, :mod:`.filters`, :mod:`.core`, :mod:`.ceremony`: the model (roles, rules,
  persisted state, the DR operation token ceremony);
* :mod:`.handlers`: ``/v1/sys/replication/*`` (HTTP only);
* :mod:`.stream`, :mod:`.forwarding`: the transport between clusters (WAL stream, forwarded
  writes) on the cluster port;
* :mod:`.wiring`: puts the three into a node process.
"""
