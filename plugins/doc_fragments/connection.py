# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by every module of vaultops.replication.
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Address of the Vault cluster, for example V(https://vault.example.com:8200), without V(/v1).
      - Point it at the cluster's load balancer or any node; redirects from standby nodes
        (HTTP 307/308) are followed to the active node with the same method and body.
      - If not set, the E(VAULT_ADDR) environment variable is used. One of them is required.
    type: str
  token:
    description:
      - Vault token sent as C(X-Vault-Token).
      - If not set, the E(VAULT_TOKEN) environment variable is used.
      - Some operations authenticate differently (the DR operation token of a DR secondary,
        unauthenticated status and health endpoints); they do not need it.
    type: str
  ca_cert:
    description:
      - Path on the controller to a PEM bundle of the CA certificates that signed the Vault
        server certificate. Without it the system trust store is used.
      - If not set, the E(VAULT_CACERT) environment variable is used.
    type: path
  client_cert:
    description:
      - Path to a PEM client certificate for Vault listeners that require TLS client authentication.
      - If not set, the E(VAULT_CLIENT_CERT) environment variable is used.
    type: path
  client_key:
    description:
      - Path to the private key of O(client_cert), if it is not in the same file.
      - If not set, the E(VAULT_CLIENT_KEY) environment variable is used.
    type: path
  validate_certs:
    description:
      - Verify the Vault server certificate. Only disable this for throw-away test labs.
      - If not set, the E(VAULT_SKIP_VERIFY) environment variable is read (inverted, as the Vault
        CLI does); otherwise the default applies.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for Vault to accept a connection and to answer a single request.
    type: int
    default: 30
  retries:
    description:
      - How many times one request is retried, with exponential backoff, when Vault cannot be
        reached or answers HTTP 412, 429, 500, 502 or 503 (standby catching up, rate limit,
        sealed or briefly unavailable during a replication state change).
      - A POST whose answer was lost after it was sent is not repeated, because it may have
        been carried out; the module reads the state back instead.
    type: int
    default: 3
requirements:
  - requests
"""

    # TLS settings of a second cluster reached through the <prefix>_* options of
    # prefixed_connection_spec("primary"); VaultModule.client_for applies these fallbacks.
    PRIMARY = r"""
options:
  primary_ca_cert:
    description: CA bundle used to verify the primary's TLS certificate. Defaults to O(ca_cert).
    type: path
  primary_validate_certs:
    description: Verify the primary's TLS certificate. Defaults to O(validate_certs).
    type: bool
"""

    # Every module is in the action group of meta/runtime.yml, so module_defaults can give the
    # connection options once for all of them. List it before
    # ansible.builtin.action_common_attributes.actiongroups: for a key both set, the fragment
    # listed first wins, and that one sets support N/A and no membership.
    ACTION_GROUP = r"""
attributes:
  action_group:
    support: full
    membership:
      - vaultops.replication.vault
"""
