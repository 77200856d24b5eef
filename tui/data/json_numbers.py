"""JSON numbers parsed as whole numpy arrays, eight digits per 64-bit word op, exactly like float().

Used by `event_columns` to turn the numeric tokens of many event lines into floats at once: each
token is read as three unaligned 64-bit words, its dot and exponent found with byte-wise SWAR tricks,
its digits combined eight at a time (Lemire's method). The result is the correctly rounded double:
Clinger's fast path, else an 80-bit x87 product checked for double-rounding ambiguity; tokens that
cannot be guaranteed this way are flagged for `float()` one by one.
"""

from __future__ import annotations

import numpy as np

WIDTH = 24
"""Longest number parsed in bulk (three 64-bit words); longer ones are flagged."""

_EXACT = 2**53  # mantissas below this with |exponent| <= 22 convert exactly (Clinger's fast path)
_X87 = np.finfo(np.longdouble).nmant == 63  # 64-bit significands make big mantissas exact too
_POW10 = 10.0 ** np.arange(23)
_POW10_X87 = np.cumprod(np.full(28, 10, dtype=np.longdouble)) / 10  # 10**0 … 10**27, all exact

_U = np.uint64
_BYTES_LO = np.array([(1 << (8 * v)) - 1 for v in range(9)], dtype=_U)  # the low v bytes of a word
_BYTES_HI = np.array([0] + [((1 << 64) - 1) ^ ((1 << (8 * (8 - v))) - 1) for v in range(1, 9)], dtype=_U)
_CLIPPED = np.clip(np.r_[0:33, -32:0], 0, 8)  # entry x (negative x from the end) is clip(x, 0, 8)
_LO_AT, _HI_AT = _BYTES_LO[_CLIPPED], _BYTES_HI[_CLIPPED]  # byte masks indexed by unclipped counts
_LOW7, _HIGH = _U(0x7F7F7F7F7F7F7F7F), _U(0x8080808080808080)
_NIBBLE, _UPPER = _U(0x0F0F0F0F0F0F0F0F), _U(0xF0F0F0F0F0F0F0F0)
_ZEROS, _DIGIT_GAP = _U(0x3030303030303030), _U(0x7676767676767676)
_DOTS, _ES, _CASE = _U(0x2E2E2E2E2E2E2E2E), _U(0x6565656565656565), _U(0x2020202020202020)


def unaligned_words(b: np.ndarray) -> np.ndarray:
    """A view of `b` where element i is the little-endian 64-bit word of bytes b[i:i+8]."""
    return np.ndarray((len(b) - 7,), dtype="<u8", buffer=b.data, strides=(1,))


def parse_numbers(
    b: np.ndarray, words: np.ndarray, ts: np.ndarray, te: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Parse the JSON numbers b[ts:te] eight digits per word op: (values, mask of tokens to redo).

    Tokens are flagged, not guessed, when longer than 24 bytes, not JSON number syntax, or when the
    conversion could round differently from float().
    """
    neg = b[ts] == 45
    s1 = ts + neg
    length = te - s1
    redo = (length < 1) | (length > WIDTH)
    length = np.clip(length, 1, WIDTH)
    inside = [_LO_AT[length - 8 * k] for k in range(3)]
    lead = [words[s1 + 8 * k] & inside[k] for k in range(3)]
    q = _first_byte([_zero_bytes(w ^ _DOTS) & m for w, m in zip(lead, inside)])
    p = np.minimum(_first_byte([_zero_bytes((w | _CASE) ^ _ES) & m for w, m in zip(lead, inside)]), length)
    has_dot, has_e = q < p, p < length  # p: end of the mantissa (the 'e', or the end)
    redo |= (q < length) & ~has_dot  # a dot after the exponent
    redo |= has_dot & ((q == 0) | (q + 1 >= p))  # digits on both sides of the dot
    redo |= (b[s1] == 48) & (np.where(has_dot, q, p) > 1)  # JSON forbids leading zeros
    mant, bad = _mantissa(words, s1 + p, np.where(has_dot, WIDTH - p + q, -1), p - has_dot)
    e10 = -np.where(has_dot, p - q - 1, 0)
    if has_e.any():
        e = np.flatnonzero(has_e)
        exp, bad_exp = _exponent(b, words, s1[e], p[e], length[e])
        e10[e] += exp
        bad[e] |= bad_exp
    values, inexact = _scale(mant, e10)
    return np.where(neg, -values, values), redo | bad | inexact


def _zero_bytes(x: np.ndarray) -> np.ndarray:
    """The high bit of each byte of x set where that byte is zero (exact: no borrow between bytes)."""
    return ~(((x & _LOW7) + _LOW7) | x | _LOW7)


def _first_byte(masks: list[np.ndarray]) -> np.ndarray:
    """Index of the first byte flagged in three consecutive words (24 when none)."""
    pos = [np.bitwise_count((m & (~m + _U(1))) - _U(1)) >> np.uint8(3) for m in masks]
    return (pos[0] + (masks[0] == 0) * (pos[1] + (masks[1] == 0) * pos[2])).astype(np.int64)


def _not_digits(w: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Non-zero where a kept byte of word w is not an ASCII digit."""
    return (((w & _UPPER) ^ _ZEROS) | (((w & _NIBBLE) + _DIGIT_GAP) & _HIGH)) & keep


def _eight_digits(w: np.ndarray) -> np.ndarray:
    """The number written by a word's 8 digit bytes (first byte most significant; zero bytes count 0)."""
    w = w & _NIBBLE
    w = ((w * _U(10)) + (w >> _U(8))) & _U(0x00FF00FF00FF00FF)
    w = ((w * _U(100)) + (w >> _U(16))) & _U(0x0000FFFF0000FFFF)
    return ((w * _U(10000)) + (w >> _U(32))) & _U(0xFFFFFFFF)


def _mantissa(
    words: np.ndarray, end: np.ndarray, dot: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(mantissa, bad) from the `n` digits before `end`, with the dot at index `dot` (-1: none) squeezed out.

    The 24 bytes before `end` are loaded right-aligned; bytes left of the dot move one place right.
    """
    r = [words[end - WIDTH + 8 * k] for k in range(3)]
    carry = [_U(0), r[0] >> _U(56), r[1] >> _U(56)]
    for k in range(3):
        left = _LO_AT[dot - 8 * k + 1]  # bytes at or before the dot
        r[k] = (r[k] & ~left) | (((r[k] << _U(8)) | carry[k]) & left)
    keep = [_HI_AT[n - 8 * (2 - k)] for k in range(3)]
    bad = (_not_digits(r[0], keep[0]) | _not_digits(r[1], keep[1]) | _not_digits(r[2], keep[2])) != 0
    v = [_eight_digits(r[k] & keep[k]).astype(np.int64) for k in range(3)]
    big = v[0] >= 922  # the mantissa must stay below 2**63
    return np.where(big, 0, v[0]) * 10**16 + v[1] * 10**8 + v[2], bad | big


def _exponent(
    b: np.ndarray, words: np.ndarray, s1: np.ndarray, p: np.ndarray, length: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(signed exponent, bad) of the digits after the 'e' at `p`."""
    sign = b[s1 + p + 1]
    signed = (sign == 45) | (sign == 43)
    n = length - p - 1 - signed
    keep = _HI_AT[n]
    w = words[s1 + length - 8]
    bad = (n < 1) | (n > 3) | (_not_digits(w, keep) != 0)
    exp = _eight_digits(w & keep).astype(np.int64)
    return np.where(sign == 45, -exp, exp), bad


def _scale(mant: np.ndarray, e10: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mant * 10**e10 rounded exactly like float(), and a mask of those that could not be guaranteed."""
    k = np.abs(e10)
    p = _POW10[np.clip(k, 0, 22)]
    m = mant.astype(np.float64)
    values = np.where(e10 >= 0, m * p, m / p)
    inexact = (mant >= _EXACT) | (k > 22)  # outside Clinger's fast path: one rounding is no longer enough
    if _X87 and inexact.any():
        values, inexact = _scale_x87(mant, e10, values, inexact)
    return values, inexact


def _scale_x87(
    mant: np.ndarray, e10: np.ndarray, values: np.ndarray, todo: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Big mantissas through 80-bit floats: exact unless the result lands on a midpoint between doubles."""
    idx = np.flatnonzero(todo & (np.abs(e10) <= 27))
    m = mant[idx].astype(np.longdouble)
    p = _POW10_X87[np.abs(e10[idx])]
    r = np.where(e10[idx] >= 0, m * p, m / p)
    low = r.view(np.uint64).reshape(-1, 2)[:, 0] & _U(0x7FF)  # significand bits a double drops
    good = idx[low != _U(0x400)]
    values, todo = values.copy(), todo.copy()
    values[good] = r[low != _U(0x400)].astype(np.float64)
    todo[good] = False
    return values, todo
