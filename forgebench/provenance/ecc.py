"""Payload bits and their error correction: a 72-bit :class:`Payload` and shortened binary BCH codes.

Payload layout (most significant field first): generator code (8 bits), version
code (8 bits), clip id (32 bits), creation time in whole minutes since
2024-01-01 00:00 UTC (24 bits, good until 2055).

The watermark payload is protected by a narrow-sense binary BCH code of length
``n = 2^m - 1`` over GF(2^m), shortened to the payload size: a BCH code with
designed distance ``2t + 1`` corrects **every** pattern of up to ``t`` bit errors
(Peterson/Berlekamp-Massey decoding), and a pattern of more errors is either
reported as a failure (the error locator does not split into distinct roots
inside the shortened positions) or, very rarely, decoded to another codeword.

The default code is BCH(255, 79, t=27) shortened by 7 to (248, 72): 72 payload
bits, 248 coded bits, any 27 flipped bits corrected (10.9 % of the coded bits).
A random word decodes to *some* codeword with probability about
``sum_{i<=t} C(n, i) / 2^(n-k)`` ~ 2^-67, so a decoded payload is trustworthy.

Soft decisions: :meth:`BCHCode.decode_soft` runs Chase-II decoding (flip the
least reliable bits in all combinations, hard-decode each, keep the codeword
with the best correlation), which corrects some patterns beyond ``t``.

Bits are numpy uint8 arrays of 0/1; bit ``i`` of a codeword is the coefficient of
``x^i`` (the message occupies the high positions, parity the low ones).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np

# Primitive polynomials for GF(2^m) (bit i = coefficient of x^i).
_PRIMITIVE = {4: 0x13, 5: 0x25, 6: 0x43, 7: 0x89, 8: 0x11D, 9: 0x211, 10: 0x409}


class DecodeError(ValueError):
    """More errors than the code can correct were detected."""


@cache
def _gf_tables(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Antilog (exp, length 2*(2^m-1)) and log tables of GF(2^m)."""
    n = (1 << m) - 1
    exp = np.zeros(2 * n, dtype=np.int64)
    log = np.full(n + 1, -1, dtype=np.int64)
    x = 1
    for i in range(n):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & (1 << m):
            x ^= _PRIMITIVE[m]
    exp[n:] = exp[:n]
    return exp, log


def _gf2_polymul(a: int, b: int) -> int:
    """Product of two GF(2)[x] polynomials packed as ints."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a <<= 1
        b >>= 1
    return out


def _generator_poly(m: int, t: int) -> int:
    """lcm of the minimal polynomials of alpha^1 .. alpha^(2t) (as a GF(2) polynomial)."""
    n = (1 << m) - 1
    exp, log = _gf_tables(m)
    seen: set[int] = set()
    g = 1
    for j in range(1, 2 * t + 1):
        if j in seen:
            continue
        coset = []
        c = j
        while c not in coset:
            coset.append(c)
            c = (2 * c) % n
        seen.update(coset)
        # prod (x - alpha^c) over the coset, coefficients in GF(2^m) (they end up in {0, 1}).
        poly = [1]
        for c in coset:
            root = int(exp[c])
            new = [0] * (len(poly) + 1)
            for i, coef in enumerate(poly):
                new[i + 1] ^= coef  # x * coef
                if coef:
                    new[i] ^= int(exp[(log[coef] + log[root]) % n])
            poly = new
        assert all(c in (0, 1) for c in poly), "minimal polynomial must be binary"
        g = _gf2_polymul(g, sum(bit << i for i, bit in enumerate(poly)))
    return g


@dataclass(frozen=True)
class BCHCode:
    """A (possibly shortened) narrow-sense binary BCH code.

    Args:
        m: field GF(2^m); the mother code has length ``2^m - 1``.
        t: designed error-correction capacity (bits).
        k: payload bits; the mother code is shortened to ``k`` message bits.

    >>> code = BCHCode(m=8, t=27, k=72)
    >>> (code.n, code.k, code.t)
    (248, 72, 27)
    >>> msg = np.random.default_rng(0).integers(0, 2, 72).astype(np.uint8)
    >>> word = code.encode(msg)
    >>> word[[3, 50, 200]] ^= 1
    >>> bool((code.decode(word) == msg).all())
    True
    """

    m: int = 8
    t: int = 27
    k: int = 72
    _gen: int = field(init=False, repr=False, compare=False)
    _parity: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.m not in _PRIMITIVE:
            raise ValueError(f"BCH field GF(2^{self.m}) not supported; use m in {sorted(_PRIMITIVE)}")
        gen = _generator_poly(self.m, self.t)
        parity = gen.bit_length() - 1
        if self.k > self.mother_n - parity or self.k < 1:
            raise ValueError(
                f"BCH(m={self.m}, t={self.t}) carries at most {self.mother_n - parity} message bits, not {self.k}"
            )
        object.__setattr__(self, "_gen", gen)
        object.__setattr__(self, "_parity", parity)

    @property
    def mother_n(self) -> int:
        return (1 << self.m) - 1

    @property
    def n_parity(self) -> int:
        return self._parity

    @property
    def n(self) -> int:
        """Length of the shortened code (coded bits)."""
        return self.k + self._parity

    # -- encoding -----------------------------------------------------------------

    def encode(self, message: np.ndarray) -> np.ndarray:
        """Systematic encoding: message bits [k] -> codeword bits [n] (uint8 0/1)."""
        msg = np.asarray(message, dtype=np.uint8).ravel()
        if msg.size != self.k:
            raise ValueError(f"BCH encoder needs {self.k} message bits, got {msg.size}")
        m_int = sum(int(b) << i for i, b in enumerate(msg))
        shifted = m_int << self._parity
        rem = shifted
        glen = self._gen.bit_length()
        while rem.bit_length() >= glen:
            rem ^= self._gen << (rem.bit_length() - glen)
        word = shifted | rem
        return np.array([(word >> i) & 1 for i in range(self.n)], dtype=np.uint8)

    # -- hard decoding ------------------------------------------------------------

    def _syndromes(self, word: np.ndarray) -> np.ndarray:
        exp, _ = _gf_tables(self.m)
        pos = np.flatnonzero(word)
        j = np.arange(1, 2 * self.t + 1)[:, None]
        if pos.size == 0:
            return np.zeros(2 * self.t, dtype=np.int64)
        return np.bitwise_xor.reduce(exp[(j * pos[None, :]) % self.mother_n], axis=1)

    def _berlekamp_massey(self, synd: np.ndarray) -> list[int]:
        """Error-locator polynomial Lambda (coefficients low -> high) from the syndromes."""
        exp, log = _gf_tables(self.m)
        nn = self.mother_n

        def mul(a: int, b: int) -> int:
            return 0 if a == 0 or b == 0 else int(exp[log[a] + log[b]])

        def inv(a: int) -> int:
            return int(exp[(nn - log[a]) % nn])

        lam, prev = [1], [1]
        ell, shift, b = 0, 1, 1
        for r in range(2 * self.t):
            d = int(synd[r])
            for i in range(1, ell + 1):
                if i < len(lam):
                    d ^= mul(lam[i], int(synd[r - i]))
            if d == 0:
                shift += 1
                continue
            coef = mul(d, inv(b))
            new = lam + [0] * max(0, len(prev) + shift - len(lam))
            for i, p in enumerate(prev):
                new[i + shift] ^= mul(coef, p)
            if 2 * ell <= r:
                prev, ell, b, shift = lam, r + 1 - ell, d, 1
            else:
                shift += 1
            lam = new
        while len(lam) > 1 and lam[-1] == 0:
            lam.pop()
        return lam

    def _error_positions(self, word: np.ndarray) -> np.ndarray:
        synd = self._syndromes(word)
        if not synd.any():
            return np.zeros(0, dtype=np.int64)
        lam = self._berlekamp_massey(synd)
        deg = len(lam) - 1
        if deg > self.t:
            raise DecodeError(f"more than {self.t} bit errors")
        exp, log = _gf_tables(self.m)
        nn = self.mother_n
        # Chien search: position i is in error iff Lambda(alpha^-i) == 0.
        i = np.arange(self.n)
        val = np.zeros(self.n, dtype=np.int64)
        for d, c in enumerate(lam):
            if c:
                val ^= exp[(log[c] - d * i) % nn]
        roots = np.flatnonzero(val == 0)
        if roots.size != deg:
            # Roots missing means they lie in the shortened (always-zero) positions or do not exist.
            raise DecodeError(f"more than {self.t} bit errors (error locator does not split)")
        return roots

    def decode(self, word: np.ndarray) -> np.ndarray:
        """Hard-decision decode: received bits [n] -> message bits [k]; raises :class:`DecodeError`."""
        return self.correct(word)[self._parity :]

    def correct(self, word: np.ndarray) -> np.ndarray:
        """Nearest codeword [n] (within distance t) of the received bits; raises :class:`DecodeError`."""
        w = np.asarray(word, dtype=np.uint8).ravel().copy()
        if w.size != self.n:
            raise ValueError(f"BCH decoder needs {self.n} bits, got {w.size}")
        w[self._error_positions(w)] ^= 1
        return w

    # -- soft decoding ------------------------------------------------------------

    def decode_soft(self, soft: np.ndarray, n_flip: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Chase-II decoding of soft values (positive means bit 1, magnitude = reliability).

        Returns (message bits [k], codeword bits [n]); raises :class:`DecodeError` if no
        test pattern decodes. The hard decision is tried first, so every pattern of
        <= t errors still decodes exactly as with :meth:`decode`.
        """
        soft = np.asarray(soft, dtype=np.float64).ravel()
        hard = (soft > 0).astype(np.uint8)
        least = np.argsort(np.abs(soft))[:n_flip]
        best, best_score = None, -np.inf
        sign = 2.0 * soft
        for r in range(n_flip + 1):
            for flips in itertools.combinations(least, r):
                trial = hard.copy()
                trial[list(flips)] ^= 1
                try:
                    cw = self.correct(trial)
                except DecodeError:
                    continue
                score = float(np.dot(sign, cw.astype(np.float64) - 0.5))
                if score > best_score:
                    best, best_score = cw, score
            if best is not None and r == 0:
                # The hard decision decoded: Chase only improves on failures or near-misses,
                # and this keeps the common case one decode long.
                n_err = int((best != hard).sum())
                if n_err <= self.t // 2:
                    break
        if best is None:
            raise DecodeError(f"more than {self.t} bit errors (Chase search over {n_flip} bits failed)")
        return best[self._parity :], best


# ---- the payload the code protects ----------------------------------------------------

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
FIELDS: tuple[tuple[str, int], ...] = (("generator_id", 8), ("version", 8), ("clip_id", 32), ("timestamp_min", 24))
PAYLOAD_BITS = sum(width for _, width in FIELDS)

# Generator codes carried in the mark; 0 means "unknown". Add new generators at the end.
GENERATOR_CODES: dict[str, int] = {"unknown": 0, "forgebench": 1}


def generator_code(name: str) -> int:
    """8-bit code of a generator name (0 = unknown)."""
    return GENERATOR_CODES.get(name.lower(), 0)


def generator_name(code: int) -> str:
    for name, c in GENERATOR_CODES.items():
        if c == code:
            return name
    return f"code-{code}"


def version_code(version: str) -> int:
    """Pack "MAJOR.MINOR.PATCH" into 8 bits: 2 bits major, 4 bits minor, 2 bits patch (each modulo).

    >>> version_code("0.1.0"), version_string(version_code("1.2.3"))
    (4, '1.2.3')
    """
    parts = [int("".join(ch for ch in p if ch.isdigit()) or 0) for p in (version.split(".") + ["0", "0"])[:3]]
    return ((parts[0] % 4) << 6) | ((parts[1] % 16) << 2) | (parts[2] % 4)


def version_string(code: int) -> str:
    return f"{code >> 6}.{(code >> 2) & 15}.{code & 3}"


def clip_id_from(text: str) -> int:
    """A 32-bit clip id from any string (first 4 bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def minutes_since_epoch(when: datetime | None = None) -> int:
    when = when or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - EPOCH).total_seconds() // 60)) % (1 << 24)


@dataclass(frozen=True)
class Payload:
    """The fields the watermark carries (all unsigned integers of their widths).

    >>> p = Payload(generator_id=1, version=3, clip_id=0xDEADBEEF, timestamp_min=123456)
    >>> Payload.from_bits(p.to_bits()) == p
    True
    >>> p.to_bits().shape
    (72,)
    """

    generator_id: int
    version: int
    clip_id: int
    timestamp_min: int

    def __post_init__(self) -> None:
        for name, width in FIELDS:
            value = getattr(self, name)
            if not 0 <= int(value) < (1 << width):
                raise ValueError(f"payload field {name}={value} does not fit in {width} bits")

    @classmethod
    def create(cls, *, generator: str = "forgebench", version: str = "0.1.0", clip: str | int = 0,
               created: datetime | None = None) -> Payload:
        """Build a payload from names: generator name, version string, clip name or id, creation time."""
        clip_id = clip if isinstance(clip, int) else clip_id_from(clip)
        return cls(generator_code(generator), version_code(version), clip_id, minutes_since_epoch(created))

    def to_bits(self) -> np.ndarray:
        """[72] uint8 0/1, most significant bit of the first field first."""
        value = 0
        for name, width in FIELDS:
            value = (value << width) | int(getattr(self, name))
        return np.array([(value >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], dtype=np.uint8)

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> Payload:
        bits = np.asarray(bits).ravel()
        if bits.size != PAYLOAD_BITS:
            raise ValueError(f"a payload has {PAYLOAD_BITS} bits, got {bits.size}")
        value = 0
        for b in bits:
            value = (value << 1) | int(b)
        fields = {}
        for name, width in reversed(FIELDS):
            fields[name] = value & ((1 << width) - 1)
            value >>= width
        return cls(**fields)

    @property
    def created(self) -> datetime:
        return EPOCH + timedelta(minutes=self.timestamp_min)

    def describe(self) -> dict[str, str]:
        """Human-readable fields (for tables and reports)."""
        return {
            "generator": generator_name(self.generator_id),
            "version": version_string(self.version),
            "clip_id": f"{self.clip_id:08x}",
            "created": self.created.strftime("%Y-%m-%dT%H:%MZ"),
        }

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
