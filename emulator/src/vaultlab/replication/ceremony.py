"""DR operation token ceremony (``generate-operation-token``), Vault's generate-root protocol.

The protocol itself (one attempt slot per node, nonce, progress, duplicate/foreign-share
rules, OTP encoding) is shared with ``sys/generate-root`` (:mod:`vaultlab.model.generate_root`), as
in Vault, so a root generation running on the same node makes this one fail with
"incorrect strategy".  This module adds what is specific to DR operation tokens: which
token is minted (by version: ``hvs.``/``s.``/UUID), where it is kept, and the legacy
client-chosen OTP.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any, Protocol

from .. import messages as M
from ..crypto import otp as otpmod
from ..model import generate_root as gr
from ..model.errors import bad_request
from ..node import Node

KIND = "dr"


class CeremonyHost(Protocol):
    """What the ceremony needs of the replication model (vaultlab.replication.core.Replication)."""

    node: Node

    @property
    def otp_length(self) -> int: ...

    def store_dr_token(self, token: str) -> None: ...


def new_operation_token(otp_length: int) -> str:
    """A token whose length matches the OTP scheme of the emulated version."""
    if otp_length == 0:
        return str(uuid.uuid4())
    if otp_length == 26:
        return "s." + otpmod.random_base62(24)
    return "hvs." + otpmod.random_base62(max(otp_length - 4, 1))


def token_digest(token: str) -> str:
    return hashlib.sha256(b"dr-operation-token\0" + token.encode()).hexdigest()


def constant_time_in(digest: str, digests: list[str]) -> bool:
    found = False
    for candidate in digests:
        found |= hmac.compare_digest(candidate, digest)
    return found


def status(repl: CeremonyHost) -> dict[str, Any]:
    return gr.status(repl.node, KIND, otp_length=repl.otp_length)


def start(repl: CeremonyHost, body: dict[str, Any]) -> dict[str, Any]:
    node, otp_length = repl.node, repl.otp_length
    given = body.get("otp") or ""
    if otp_length == 0 and given and not body.get("pgp_key"):
        # Legacy servers took a client-made OTP: base64 of exactly 16 bytes.
        try:
            otpmod.encode_legacy(str(uuid.uuid4()), given)
        except otpmod.OTPError:
            raise bad_request(M.GEN_LEGACY_OTP) from None
        result = gr.start(node, KIND, {k: v for k, v in body.items() if k != "otp"}, otp_length=0)
        node.root_generation["otp"] = given
        result["otp"] = ""
        return result
    return gr.start(node, KIND, body, otp_length=otp_length)


def update(repl: CeremonyHost, body: dict[str, Any]) -> dict[str, Any]:
    def produce(_node: Node) -> str:
        token = new_operation_token(repl.otp_length)
        repl.store_dr_token(token)
        return token

    return gr.update(repl.node, KIND, body, produce)


def cancel(repl: CeremonyHost) -> None:
    gr.cancel(repl.node, KIND)
