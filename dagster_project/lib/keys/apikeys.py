"""API key format: `plat_<kind>_<secret><checksum>`.

* `plat_` names the issuer and `<kind>` (`live` or `test`) the environment, so secret scanners
  and people recognise a leaked key and where it belongs.
* `<secret>` is 30 base62 characters from `secrets` (about 178 bits): guessing is hopeless, so
  an unsalted sha256 is a safe lookup hash (salts protect low-entropy passwords, not this) and
  lets a request find its key with one unique-index probe.
* `<checksum>` is the CRC32 of everything before it, as 6 base62 characters: a scanner can tell
  a real key from random text offline, without a database, and a typo is caught before a lookup.

Only `hash_api_key(key)` (32 bytes of sha256) and `display_prefix(key)` are ever stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass

ISSUER = "plat"
KINDS = ("live", "test")
SECRET_LENGTH = 30  # 30 base62 chars = log2(62)*30 ≈ 178 bits of entropy
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: every CRC32 value fits
DISPLAY_PREFIX_LENGTH = 14  # "plat_live_" + 4 secret chars: enough to tell keys apart in a UI
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_PATTERN = re.compile(
    rf"\b{ISSUER}_(?:{'|'.join(KINDS)})_[0-9A-Za-z]{{{SECRET_LENGTH + CHECKSUM_LENGTH}}}\b"
)


class InvalidApiKey(ValueError):
    """The text is not a well-formed key of ours (wrong shape or checksum)."""


@dataclass(frozen=True)
class ApiKey:
    plaintext: str  # shown once at creation; never stored or logged

    @property
    def sha256(self) -> bytes:
        return hash_api_key(self.plaintext)

    @property
    def prefix(self) -> str:
        return display_prefix(self.plaintext)

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"ApiKey(prefix={self.prefix!r})"


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def generate_api_key(kind: str = "live", *, rng: secrets.SystemRandom | None = None) -> ApiKey:
    if kind not in KINDS:
        raise ValueError(f"key kind must be one of {', '.join(KINDS)}, not {kind!r}")
    choose = (rng or secrets.SystemRandom()).choice
    body = f"{ISSUER}_{kind}_" + "".join(choose(BASE62) for _ in range(SECRET_LENGTH))
    return ApiKey(body + _checksum(body))


def parse_api_key(text: str) -> ApiKey:
    """Check shape and checksum offline; raise InvalidApiKey naming what is wrong."""
    if not KEY_PATTERN.fullmatch(text):
        raise InvalidApiKey(
            "not an API key: expected plat_<live|test>_ followed by 36 base62 characters"
        )
    body, checksum = text[:-CHECKSUM_LENGTH], text[-CHECKSUM_LENGTH:]
    if _checksum(body) != checksum:
        raise InvalidApiKey("API key checksum does not match: mistyped or not issued by us")
    return ApiKey(text)


def looks_like_api_key(text: str) -> bool:
    try:
        parse_api_key(text)
    except InvalidApiKey:
        return False
    return True


def find_api_keys(text: str) -> list[str]:
    """Every real (checksum-valid) key in a blob of text: for scanners and leak tests."""
    return [match for match in KEY_PATTERN.findall(text) if looks_like_api_key(match)]


def hash_api_key(plaintext: str) -> bytes:
    return hashlib.sha256(plaintext.encode()).digest()


def display_prefix(plaintext: str) -> str:
    return plaintext[:DISPLAY_PREFIX_LENGTH]
