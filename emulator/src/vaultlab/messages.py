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

# tokens / policies
TOKEN_ROLE_NOT_FOUND = 'unknown role {name}'
TOKEN_POLICY_NOT_ALLOWED = "token policies ({policies}) must be subset of the role's allowed policies ({allowed})"
TOKEN_CHILD_POLICY = "child policies must be subset of parent"
BAD_TOKEN_TYPE = "invalid 'token_type' value {value!r}"
BATCH_NO_ROOT = "batch tokens cannot be created with the root policy"
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
