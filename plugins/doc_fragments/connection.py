# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by every module of vaultops.replication
    # (module_utils/_runner.py: connection_argument_spec, RunnerContext.resolve_connection).
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Address of the Vault cluster, for example V(https://vault.example.com:8200), without V(/v1).
      - Point it at the cluster's load balancer or any node; redirects from standby nodes
        (HTTP 307/308) are followed to the active node with the same method and body.
      - If not set, O(cluster.url) is used, then the E(VAULT_ADDR) environment variable. One of
        them is required.
    type: str
  token:
    description:
      - Vault token sent as C(X-Vault-Token).
      - If not set, O(cluster.token) is used, then the E(VAULT_TOKEN) environment variable.
      - Some operations authenticate differently (the DR operation token of a DR secondary,
        unauthenticated status and health endpoints); they do not need it.
    type: str
  ca_cert:
    description:
      - Path on the controller to a PEM bundle (or a hashed directory) of the CA certificates
        that signed the Vault server certificate. Only these CAs are trusted then.
      - If not set, O(cluster.ca_cert) is used, then the E(VAULT_CACERT) environment variable.
      - If none of them is set, the first of the environment variables E(REQUESTS_CA_BUNDLE),
        E(CURL_CA_BUNDLE), E(SSL_CERT_FILE) and E(SSL_CERT_DIR) that is set names the trusted
        CAs; without any, the system trust store is used (OpenSSL's default CA file or
        directory, for example C(/etc/ssl/certs) on Debian), and only where the system has none
        the certifi bundle of the C(requests) library.
      - The certificate is verified in every case unless O(validate_certs) is false.
    type: path
  client_cert:
    description:
      - Path to a PEM client certificate for Vault listeners that require TLS client authentication.
      - If not set, O(cluster.client_cert) is used, then the E(VAULT_CLIENT_CERT) environment variable.
    type: path
  client_key:
    description:
      - Path to the private key of O(client_cert), if it is not in the same file.
      - If not set, O(cluster.client_key) is used, then the E(VAULT_CLIENT_KEY) environment variable.
    type: path
  validate_certs:
    description:
      - Verify the Vault server certificate. Only disable this for throw-away test labs.
      - If not set, O(cluster.validate_certs) is used, then the E(VAULT_SKIP_VERIFY) environment
        variable (inverted, as the Vault CLI reads it); otherwise V(true).
    type: bool
  proxies:
    description:
      - HTTP(S) proxy for the requests to Vault. A string is one proxy URL for both C(http://)
        and C(https://) Vault addresses, for example V(http://proxy.example.com:3128); a dict maps
        the scheme of the Vault address (V(http), V(https), or V(all) for both) to a proxy URL.
        HTTPS goes through the proxy as a C(CONNECT) tunnel, so TLS is still verified against
        the Vault server certificate. C(socks5://) proxies need the C(PySocks) library.
      - If not set, the environment decides as it does for the Vault CLI. E(VAULT_PROXY_ADDR) (or the
        older E(VAULT_HTTP_PROXY)) is the proxy for every Vault request; otherwise
        E(HTTPS_PROXY) / E(HTTP_PROXY) (by the scheme of the Vault address) or E(ALL_PROXY) is
        used unless E(NO_PROXY) lists the host (names, domain suffixes, C(host:port), IP
        addresses and CIDR networks, or C(*)). Lower-case names win over upper-case ones.
        Without any of them the connection is direct.
      - The same proxy serves every cluster the module talks to. To reach some clusters directly,
        list them in E(NO_PROXY) instead of setting this option.
      - Treated as a secret (a proxy URL may carry a password), so it never appears in output.
    type: raw
  timeout:
    description:
      - Seconds to wait for Vault to accept a connection and to answer a single request.
      - Between 1 and 3600; the task fails naming the option before any request otherwise.
    type: int
    default: 30
  retries:
    description:
      - How many times one request is retried, with exponential backoff, when Vault cannot be
        reached or answers HTTP 412, 429, 500, 502 or 503 (standby catching up, rate limit,
        sealed or briefly unavailable during a replication state change).
      - A POST whose answer was lost after it was sent is not repeated, because it may have
        been carried out; the module reads the state back instead.
      - Between 0 and 50.
    type: int
    default: 3
  cluster:
    description:
      - "The cluster to act on as one dictionary, so that a playbook describes each cluster once
        and passes it whole, for example C(cluster: \"{{ topology_clusters['dr'] }}\") with the
        dictionaries the C(vaultops.replication.topology) role builds."
      - A flat option that is set (O(url), O(token), O(ca_cert), O(client_cert), O(client_key),
        O(validate_certs)) wins over the same key here; environment variables come last. Options
        set through C(module_defaults) count as set.
      - Empty strings count as not set, so a cluster without a token falls back to E(VAULT_TOKEN).
    type: dict
    suboptions:
      url:
        description: API address of the cluster, as O(url).
        type: str
      token:
        description: Vault token for the cluster, as O(token).
        type: str
      ca_cert:
        description: CA bundle, as O(ca_cert).
        type: path
      client_cert:
        description: Client certificate, as O(client_cert).
        type: path
      client_key:
        description: Key of the client certificate, as O(client_key).
        type: path
      validate_certs:
        description: Verify the server certificate, as O(validate_certs).
        type: bool
      name:
        description: Name of the cluster, used in messages (for example C(cluster 'dr' at https://...)).
        type: str
      nodes:
        description:
          - API addresses of the cluster's nodes. Used only where a module takes node addresses
            (the standbys M(vaultops.replication.replication_secondary) unseals), otherwise ignored.
        type: list
        elements: str
requirements:
  - requests
notes:
  - "Execution: each module has an action plugin of the same name that runs the module's code in
    the controller's Python process, without shipping it through AnsiballZ (much faster per task).
    Options, C(module_defaults), the action group, check and diff mode, C(no_log) and the returned
    keys are the same either way, and so are the Vault CLI environment variables, read from the
    controller's environment plus the task's C(environment) keyword."
  - "The module itself runs instead (through AnsiballZ, on the target host) when the connection is
    not local (C(delegate_to) another host, or a host reached over SSH), with C(become) or
    C(async), or when the variable C(vaultops_replication_execution) is V(module) (default
    V(auto))."
  - "Options are checked before any cluster is contacted, the same way on both paths: URLs
    (scheme http or https, a host, no query string), tokens and key shares (no whitespace or
    line breaks), the CA bundle and client certificate files (readable PEM), names that become
    part of an API path (no C(/)), durations and number ranges. A failure names the option, or
    the environment variable it came from, and what would be valid."
"""

    # Second cluster reached through the primary_* options (prefixed_connection_spec("primary"));
    # RunnerContext.client_for applies these fallbacks.
    PRIMARY = r"""
options:
  primary_ca_cert:
    description: CA bundle used to verify the primary's TLS certificate. Defaults to O(primary_cluster.ca_cert), then O(ca_cert).
    type: path
  primary_validate_certs:
    description:
      - Verify the primary's TLS certificate. Defaults to O(primary_cluster.validate_certs), then O(validate_certs).
    type: bool
  primary_cluster:
    description:
      - The primary as one dictionary, with the same keys as O(cluster). A C(primary_*) option that
        is set wins over the same key here. Unset TLS settings fall back to the module's own; the
        token never does.
    type: dict
    suboptions:
      url:
        description: API address of the primary, as O(primary_url).
        type: str
      token:
        description: Token for the primary, as O(primary_token).
        type: str
      ca_cert:
        description: CA bundle, as O(primary_ca_cert).
        type: path
      client_cert:
        description: Client certificate for the primary. Defaults to O(client_cert).
        type: path
      client_key:
        description: Key of that client certificate. Defaults to O(client_key).
        type: path
      validate_certs:
        description: Verify the primary's certificate, as O(primary_validate_certs).
        type: bool
      name:
        description: Name of the primary, used in messages.
        type: str
      nodes:
        description: Node addresses of the primary. Ignored.
        type: list
        elements: str
"""

    # The old primary of vaultops.replication.promote (prefixed_connection_spec("old_primary")).
    OLD_PRIMARY = r"""
options:
  old_primary_cluster:
    description:
      - The old primary as one dictionary, with the same keys as O(cluster). An C(old_primary_*)
        option that is set wins over the same key here. Unset TLS settings fall back to the
        module's own.
    type: dict
    suboptions:
      url:
        description: API address of the old primary, as O(old_primary_url).
        type: str
      token:
        description: Token for the old primary, as O(old_primary_token).
        type: str
      ca_cert:
        description: CA bundle, as O(old_primary_ca_cert).
        type: path
      client_cert:
        description: Client certificate for the old primary. Defaults to O(client_cert).
        type: path
      client_key:
        description: Key of that client certificate. Defaults to O(client_key).
        type: path
      validate_certs:
        description: Verify the old primary's certificate, as O(old_primary_validate_certs).
        type: bool
      name:
        description: Name of the old primary, used in messages.
        type: str
      nodes:
        description: Node addresses of the old primary. Ignored.
        type: list
        elements: str
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

    # Every module has a same-named action plugin (plugin_utils/_action.py). List it before
    # ansible.builtin.action_common_attributes.flow, which describes these attributes.
    EXECUTION = r"""
attributes:
  action:
    support: full
    details:
      - The action plugin runs the module's code in-process on the controller; see the notes for
        when the module runs through AnsiballZ instead.
  async:
    support: full
    details:
      - With C(async) the module runs through AnsiballZ.
  bypass_host_loop:
    support: none
"""
