"""vaultlab's transport between clusters (layer ``transport`` in tests/test_layers.py).

* :mod:`.cluster_tls`: mutual TLS on the cluster port (replication CA, certificates carried in
  the activation bundle, SNI and ALPN per replication type).

The WAL stream and forwarded writes are in :mod:`vaultlab.replication.stream` and
:mod:`vaultlab.replication.forwarding` (same layer).
"""
