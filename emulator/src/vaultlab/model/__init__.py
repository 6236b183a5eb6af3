"""vaultlab's model layer: Vault's state and rules, without HTTP or processes.

Nothing here imports aiohttp, the API handlers, the replication transport or the process
code; those layers call into the model (see tests/test_layers.py for the rule).
"""
