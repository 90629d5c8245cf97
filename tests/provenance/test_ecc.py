"""BCH code and payload: exact round trips, the promised correction capacity, detectable failure beyond it."""

from __future__ import annotations

import numpy as np
import pytest

from forgebench.provenance.ecc import (
    PAYLOAD_BITS,
    BCHCode,
    DecodeError,
    Payload,
    _gf_tables,
    version_code,
    version_string,
)


@pytest.fixture(scope="module")
def code() -> BCHCode:
    return BCHCode(m=8, t=27, k=PAYLOAD_BITS)


def test_dimensions_match_the_bch_table(code):
    # Standard BCH tables list (255, 79) with t = 27; shortened by 7 to carry 72 bits.
    assert code.n_parity == 255 - 79
    assert (code.n, code.k, code.t) == (248, 72, 27)


def test_codewords_have_the_designed_roots(code):
    # Independent check of the encoder: c(alpha^j) = 0 for j = 1..2t, evaluated directly.
    exp, _ = _gf_tables(8)
    rng = np.random.default_rng(0)
    word = code.encode(rng.integers(0, 2, code.k))
    for j in range(1, 2 * code.t + 1):
        acc = 0
        for i in np.flatnonzero(word):
            acc ^= int(exp[(j * i) % 255])
        assert acc == 0


def test_corrects_every_pattern_up_to_t(code):
    rng = np.random.default_rng(1)
    for n_err in [0, 1, 2, 13, 26, 27, 27, 27]:
        msg = rng.integers(0, 2, code.k).astype(np.uint8)
        word = code.encode(msg)
        word[rng.choice(code.n, n_err, replace=False)] ^= 1
        assert np.array_equal(code.decode(word), msg)


def test_beyond_t_fails_detectably(code):
    rng = np.random.default_rng(2)
    for n_err in range(code.t + 1, code.t + 16):
        msg = rng.integers(0, 2, code.k).astype(np.uint8)
        word = code.encode(msg)
        word[rng.choice(code.n, n_err, replace=False)] ^= 1
        with pytest.raises(DecodeError):
            code.decode(word)


def test_soft_decoding_beats_hard_decoding(code):
    rng = np.random.default_rng(3)
    msg = rng.integers(0, 2, code.k).astype(np.uint8)
    clean = 2.0 * code.encode(msg) - 1.0
    soft = clean.copy()
    # 29 wrong but unreliable bits: beyond t for the hard decoder, within Chase's reach.
    wrong = rng.choice(code.n, 29, replace=False)
    soft[wrong] *= -0.05
    with pytest.raises(DecodeError):
        code.decode((soft > 0).astype(np.uint8))
    decoded, _ = code.decode_soft(soft, n_flip=5)
    assert np.array_equal(decoded, msg)


def test_payload_round_trip_and_field_limits():
    p = Payload(generator_id=255, version=0, clip_id=2**32 - 1, timestamp_min=2**24 - 1)
    assert Payload.from_bits(p.to_bits()) == p
    bits = p.to_bits()
    assert bits.shape == (72,) and bits[:8].all() and not bits[8:16].any()
    with pytest.raises(ValueError):
        Payload(256, 0, 0, 0)
    assert version_string(version_code("1.2.3")) == "1.2.3"
