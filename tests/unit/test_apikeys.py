from __future__ import annotations

import random

import pytest

from dagster_project.lib.keys import (
    InvalidApiKey,
    display_prefix,
    find_api_keys,
    generate_api_key,
    hash_api_key,
    looks_like_api_key,
    parse_api_key,
)


def test_generated_keys_are_recognised_offline_and_unique():
    keys = [generate_api_key().plaintext for _ in range(200)]
    assert len(set(keys)) == 200
    assert all(key.startswith("plat_live_") and len(key) == 46 for key in keys)
    assert all(looks_like_api_key(key) for key in keys)


def test_a_single_changed_character_fails_the_checksum():
    key = generate_api_key("test").plaintext
    position = 20
    replacement = "A" if key[position] != "A" else "B"
    typo = key[:position] + replacement + key[position + 1 :]
    with pytest.raises(InvalidApiKey, match="checksum"):
        parse_api_key(typo)


@pytest.mark.parametrize(
    "text", ["", "plat_prod_" + "a" * 36, "plat_live_short", "sk_live_" + "a" * 36]
)
def test_malformed_keys_are_rejected_with_the_expected_shape(text):
    with pytest.raises(InvalidApiKey, match="expected plat_"):
        parse_api_key(text)


def test_hash_is_sha256_bytes_and_prefix_is_short():
    key = generate_api_key().plaintext
    assert len(hash_api_key(key)) == 32
    assert hash_api_key(key) != hash_api_key(key + "x")
    assert display_prefix(key) == key[:14] and key[14:] not in display_prefix(key)


def test_repr_never_shows_the_secret():
    key = generate_api_key()
    assert key.plaintext not in repr(key)


def test_find_api_keys_in_text_ignores_lookalikes():
    real = generate_api_key().plaintext
    fake = "plat_live_" + "".join(random.Random(1).choice("abcdef") for _ in range(36))
    assert find_api_keys(f"config: token={real} other={fake}") == [real]


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="live, test"):
        generate_api_key("prod")
