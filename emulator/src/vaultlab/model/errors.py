"""The one error type of the model: Vault's error texts with the HTTP status Vault answers.

The API layer renders it as ``{"errors": [...]}`` (``vaultlab.api.common.error_answer``);
the model raises it without knowing about HTTP.
"""

from __future__ import annotations


class VaultError(Exception):
    """An error answer: ``{"errors": [...]}`` with ``status``."""

    def __init__(self, status: int, errors: list[str] | str | None = None, warnings: list[str] | None = None):
        if isinstance(errors, str):
            errors = [errors]
        self.status = status
        self.errors = list(errors or [])
        self.warnings = warnings
        super().__init__(f"{status}: {'; '.join(self.errors)}")


def bad_request(message: str) -> VaultError:
    return VaultError(400, [message])
