"""Vault's error and warning strings, in one place (the replication package appends its own)."""

# generic (API reference §1.2)
SEALED = "Vault is sealed"
STANDBY = "Vault is in standby mode"
PERMISSION_DENIED = "permission denied"
UNSUPPORTED_PATH = "unsupported path"
UNSUPPORTED_OPERATION = "unsupported operation"
MISSING_REQUIRED_STATE = "required index state not present"
INTERNAL = "internal error"
NOT_INITIALIZED = "Vault is not initialized"
SERVER_NOT_INITIALIZED = "server is not yet initialized"
ALREADY_INITIALIZED = "Vault is already initialized"
INVALID_SHARES = "invalid seal configuration: number of shares must be between 1 and 255 and at least the threshold"
INVALID_THRESHOLD_ONE = "invalid seal configuration: threshold must be greater than one for multiple shares"
NO_DATA = "no data provided"
JSON_PARSE = "failed to parse JSON input"

# unseal / key shares
KEY_MISSING = "'key' must be specified in request body as JSON, or 'reset' set to true"
KEY_NOT_HEX_OR_B64 = "'key' must be a valid hex or base64 string"
UNSEAL_FAILED = "failed to unseal"
KEY_VERIFICATION = "cipher: message authentication failed"

# generate-root family (reference §5.3)
ROOT_GEN_IN_PROGRESS = "root generation already in progress"
ROOT_GEN_NOT_IN_PROGRESS = "no root generation in progress"
ROOT_GEN_KEY_MISSING = "'key' must be specified in request body as JSON"
ROOT_GEN_WRONG_NONCE = 'incorrect nonce supplied; nonce for this root generation operation is "{nonce}"'
ROOT_GEN_WRONG_STRATEGY = (
    "incorrect strategy supplied; a generate root operation of another type is already in progress"
)
ROOT_GEN_DUPLICATE_KEY = "given key has already been provided during this generation operation"
ROOT_GEN_ABORTED = "root generation aborted: root key verification failed: {reason}"
OTP_WRONG_LENGTH = "OTP string is wrong length"
OTP_AND_PGP = "only one of \"otp\" and \"pgp_key\" may be specified"
KEY_TOO_SHORT = "key is shorter than minimum 16 bytes"
KEY_TOO_LONG = "key is longer than maximum 33 bytes"
PGP_UNSUPPORTED = "error parsing PGP key: PGP-encrypted results are not supported by vaultlab"
# sys/decode-token (reference §5.4): Go's error chain from roottoken.DecodeToken and helper/xor
DECODE_BASE64 = "error decoding base64'd token: illegal base64 data at input byte {index}"
DECODE_XOR = "error xoring token: {reason}"
XOR_LENGTHS = "length of byte slices is not equivalent: {left} != {right}"
XOR_FIRST_BASE64 = "error decoding first base64 value: illegal base64 data at input byte {index}"
XOR_FIRST_EMPTY = "decoded first base64 value is nil or empty"
XOR_SECOND_EMPTY = "decoded second base64 value is nil or empty"

# tokens / policies
TOKEN_ROLE_NOT_FOUND = 'unknown role {name}'
TOKEN_POLICY_NOT_ALLOWED = "token policies ({policies}) must be subset of the role's allowed policies ({allowed})"
TOKEN_CHILD_POLICY = "child policies must be subset of parent"
BAD_TOKEN_TYPE = "invalid 'token_type' value {value!r}"
BATCH_NO_ROOT = "batch tokens cannot be created with the root policy"
BATCH_NO_REVOKE = "batch tokens cannot be revoked"
CANNOT_DELETE_POLICY = "cannot delete {name} policy"
CANNOT_UPDATE_ROOT = "cannot update root policy"
POLICY_MISSING_NAME = "missing policy name"
POLICY_MISSING_BODY = "'policy' parameter not supplied or empty"
POLICY_PARSE = "failed to parse policy: {reason}"
ORPHAN_REQUIRES_SUDO = "root or sudo privileges required to create orphan token"

# wrapping (reference §1.2)
WRAPPING_TOKEN_INVALID = "wrapping token is not valid or does not exist"

# mounts and KV
MOUNT_EXISTS = "path is already in use at {path}"
MOUNT_UNKNOWN_TYPE = "plugin not found in the catalog: {type}"
MOUNT_RESERVED = "cannot mount {path}: reserved path"
NO_MOUNT = "no handler for route \"{path}\". route entry not found."
KV_CAS_MISMATCH = "check-and-set parameter did not match the current version"
KV_CAS_REQUIRED = "check-and-set parameter required for this call"
KV_NO_DATA = "no data provided"
KV_MAX_VERSIONS = "invalid version"


# -- replication (sys/replication/*); texts marked [?] in emulator/COVERAGE.md are guesses ----
# Warnings captured verbatim from real servers (API reference §2.2-2.4, §2.9, §2.10).
WARN_ENABLE_PRIMARY = ("This cluster is being enabled as a primary for replication. Vault will be "
                       "unavailable for a brief period and will resume service shortly.")
WARN_DEMOTE = ("This cluster is being demoted to a replication secondary. Vault will be unavailable "
               "for a brief period and will resume service shortly.")
WARN_DISABLE = ("This cluster is having replication disabled. Vault will be unavailable for a brief "
                "period and will resume service shortly.")
WARN_ENABLE_SECONDARY = ("Vault has successfully found secondary information; it may take a while to "
                         "perform setup tasks. Vault will be unavailable until these tasks and initial "
                         "sync complete.")
WARN_PROMOTE = ("This cluster is being promoted to a replication primary. Vault will be unavailable "
                "for a brief period and will resume service shortly.")
WARN_UPDATE_PRIMARY = ("Vault has successfully found secondary information; it may take a while to "
                       "perform setup tasks. Vault will be unavailable until these tasks and initial "
                       "sync complete.")
WARN_NO_REDIRECT_ADDR = ("No redirect address set in Vault so none could be encoded in the token. You "
                         "may need to supply Vault's API address when unwrapping the token.")
WARN_RECOVER = "Recovery operation has been started; replication will resume shortly."
WARN_REINDEX = "Reindex has been started; replication will resume once it finishes."
DR_SECONDARY_PATH_DISABLED = "path disabled in replication DR secondary mode"
WRAPPING_PARSE = "wrapping token could not be parsed: {reason}"
# Wrong-state texts are not public ([?]); these name the state and the way out.
REPL_ALREADY_PRIMARY = "cluster is already a primary of this replication type"
REPL_ENABLE_PRIMARY_ON_SECONDARY = ("cluster is a secondary of this replication type; promote it "
                                    "instead of enabling it as a primary")
REPL_ENABLE_SECONDARY_ON_PRIMARY = ("cluster is a primary of this replication type; demote or disable "
                                    "it before enabling it as a secondary")
REPL_ALREADY_SECONDARY = ("cluster is already a secondary of this replication type; use "
                          "update-primary to point it at another primary")
REPL_BOOTSTRAPPING = "cluster is bootstrapping as a secondary; wait until setup finishes"
REPL_NOT_PRIMARY = "cannot {action}: this cluster is not a primary of this replication type"
REPL_NOT_SECONDARY = "cannot {action}: this cluster is not a secondary of this replication type"
REPL_ID_REQUIRED = "missing secondary id: supply a non-empty 'id'"
REPL_DUPLICATE_ID = ("a secondary with id \"{id}\" already exists; revoke it first or pick another id")
REPL_UNKNOWN_ID = "no secondary with id \"{id}\" is known to this primary"
REPL_TOKEN_REQUIRED = "missing activation token: supply 'token'"
REPL_TOKEN_AND_ADDRS = "'token' and 'update_primary_addrs' are mutually exclusive; supply only one"
REPL_ADDRS_AFTER_FAILOVER = ("update_primary_addrs cannot be used on a demoted primary after a DR "
                             "failover; supply an activation token from the new primary instead")
REPL_ADDRS_NO_PRIMARY = "update_primary_addrs needs a known primary; supply an activation token instead"
REPL_TOKEN_WRONG_TYPE = "activation token is for {got} replication, not {want}"
REPL_BAD_BUNDLE = "error response unwrapping secondary token: the wrapped secondary information is malformed"
REPL_UNWRAP_FAILED = "error response unwrapping secondary token; status code is {status}, message is \"{message}\""
REPL_UNWRAP_CONNECT = "error unwrapping secondary token: {reason}"
REPL_NO_PRIMARY_ADDR = ("activation token carries no primary API address; supply 'primary_api_addr'")
REPL_CA_FILE = "error loading CA file {path}: {reason}"
REPL_BOOTSTRAP_FAILED = ("error fetching secondary bootstrap package: error authing for bootstrap: rpc "
                         "error: code = Unavailable desc = {reason}")
REPL_PROMOTE_CATCHING_UP = ("replication is still catching up, try again later or provide the "
                            "'force' argument")
REPL_DR_TOKEN_REQUIRED = "missing dr_operation_token: supply it in the request body"
REPL_DR_TOKEN_INVALID = "invalid dr_operation_token"
REPL_PERF_ON_DR_SECONDARY = ("performance replication cannot be enabled while this cluster is a DR "
                             "secondary")
REPL_FILTER_BAD_MODE = "invalid paths filter mode \"{mode}\"; use \"allow\" or \"deny\""
REPL_FILTER_BAD_PATHS = "'paths' must be a list of mount or namespace paths"
REPL_FILTER_PERF_ONLY = "paths filters exist only for performance replication"
REPL_BAD_PARAM = "invalid value for '{name}'"
REPL_BAD_TTL = "invalid 'ttl': {reason}"
REPL_NO_PUBLIC_KEY = ("this token was encrypted for a secondary public key, but this cluster holds no "
                      "matching key; run generate-public-key on it first")
REPL_BAD_PUBLIC_KEY = "invalid secondary_public_key: {reason}"
GEN_ABORTED_COMBINE = "root generation aborted: failed to compute root key: {reason}"
REPL_UNAVAILABLE = ("Vault is temporarily unavailable while replication is reconfigured; retry "
                    "shortly")
REPL_CLUSTER_NOT_PRIMARY = "this cluster is not a {type} replication primary"
REPL_CLUSTER_AUTH = "secondary is not known to this primary or its credential was revoked"
REPL_PARTITIONED = "connection refused: replication traffic between these clusters is cut"
REPL_CEREMONY_DR_ONLY = ("generate-operation-token is only available on a DR secondary; this cluster "
                         "is not one")
REPL_BATCH_NOT_DELETABLE = ("batch DR operation tokens cannot be deleted; they expire with their TTL "
                            "(delete only tokens made with generate-operation-token)")
GEN_LEGACY_OTP = "decoded OTP value is invalid or wrong length"

# Writes forwarded from a performance secondary to its primary (reference §7.1). Vault's
# text for a failed forward is "error during forwarding RPC request"; the cause after the
# colon is vaultlab's.
FORWARD_FAILED = "error during forwarding RPC request: {reason}"
FORWARD_NO_PRIMARY = "this performance secondary knows no primary to forward the write to"
FORWARD_CONFLICT = ("the primary kept changing the data this write depends on; retry the request")
REPL_RELOAD_SUBSYSTEM = ("unsupported subsystem \"{subsystem}\": only \"license\" can be reloaded")

# sys/storage/raft/snapshot (Vault's handleStorageRaftSnapshotWrite; the read errors are [?])
SNAPSHOT_KEYS_MISMATCH = ("could not verify hash file, possibly the snapshot is using a different set of "
                          "unseal keys; use the snapshot-force API to bypass this check")
SNAPSHOT_UNREADABLE = "failed to read snapshot file: {reason}"
SNAPSHOT_NO_BODY = "no snapshot supplied: send the archive from GET sys/storage/raft/snapshot as the request body"

# audit devices (Vault's texts; a blocked request is Vault's opaque 500, observed in
# hashicorp/vault#550 and #15932)
AUDIT_UNKNOWN_TYPE = 'unknown backend type: "{type}"'
AUDIT_PATH_IN_USE = "path already in use"
AUDIT_FILE_PATH_REQUIRED = "file_path is required"
AUDIT_TEST_FAILED = "audit backend failed test message: {reason}"
AUDIT_NO_DEVICE = "no audit device enabled at {path}"
AUDIT_BLOCKED = INTERNAL
