"""Tokens B at rest: Fernet-encrypted (AES-128-CBC with HMAC-SHA256) with ``CAL_SECRET_KEY``.

On Azure the key is a Key Vault secret that the container app reads into ``CAL_SECRET_KEY``;
the database then holds only ciphertext. Locally, without the setting, a key file is created
under ``$CAL_DATA_DIR`` (mode 0600) on first use, so embedded defaults work unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from shared.settings import Settings

FERNET_PREFIX = "gAAAAA"  # every Fernet token starts with version byte 0x80 and a timestamp


class TokenUnreadable(ValueError):
    """A stored token that the configured key cannot decrypt."""


class TokenCipher:
    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "CAL_SECRET_KEY must be a Fernet key (32 url-safe Base64-encoded bytes,"
                " e.g. from `python -c 'from cryptography.fernet import Fernet;"
                " print(Fernet.generate_key().decode())'`)"
            ) from exc

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise TokenUnreadable("stored token B cannot be decrypted with CAL_SECRET_KEY") from exc

    @staticmethod
    def is_ciphertext(stored: str) -> bool:
        """False for a token B stored in plain text before encryption (re-encrypted on load)."""
        return stored.startswith(FERNET_PREFIX)


def cipher_for(settings: Settings) -> TokenCipher:
    if settings.secret_key is not None:
        return TokenCipher(settings.secret_key.get_secret_value())
    return TokenCipher(_local_key(settings.data_dir / "secret.key"))


def _local_key(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
    return key
