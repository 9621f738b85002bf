"""API keys: generation, offline recognition and hashing. The plaintext never reaches storage."""

from dagster_project.lib.keys.apikeys import (
    ApiKey,
    InvalidApiKey,
    display_prefix,
    find_api_keys,
    generate_api_key,
    hash_api_key,
    looks_like_api_key,
    parse_api_key,
)

__all__ = [
    "ApiKey",
    "InvalidApiKey",
    "display_prefix",
    "find_api_keys",
    "generate_api_key",
    "hash_api_key",
    "looks_like_api_key",
    "parse_api_key",
]
