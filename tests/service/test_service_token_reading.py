"""The token's segments are read as PyJWT reads them: the same bytes or the same refusal."""

from __future__ import annotations

import base64
from collections.abc import Callable

import jwt
import pytest
from campaign import campaign
from hypothesis import given
from hypothesis import strategies as st

from jdm_cds.service.auth import _JWS

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _read(read: Callable[[bytes, str], bytes], segment: bytes) -> bytes | str:
    """The bytes a reader returns for ``segment``, or the message of its refusal."""
    try:
        return read(segment, "payload")
    except jwt.DecodeError as refused:
        return f"refused: {refused}"


def _same(segment: bytes) -> None:
    assert _read(_JWS._decode_base64url_segment, segment) == _read(
        jwt.PyJWS._decode_base64url_segment, segment), segment


def _segments() -> st.SearchStrategy[bytes]:
    encoded = st.binary(max_size=80).map(lambda data: base64.urlsafe_b64encode(data))
    return st.one_of(
        encoded.map(lambda text: text.rstrip(b"=")),  # the usual form
        encoded,  # padded
        # anything near the alphabet: wrong lengths, non-canonical last characters, padding
        # in the middle, the standard alphabet's + and /, other bytes
        st.text(_ALPHABET + "=+/.! é", max_size=40).map(lambda text: text.encode()),
        st.binary(max_size=40),
        encoded.flatmap(lambda text: st.integers(0, max(len(text) - 1, 0)).map(
            lambda at: text[:at] + b"A" + text[at + 1:])),
    )


@pytest.mark.fuzz
@campaign(1_000, 100_000)
@given(_segments())
def test_a_segment_is_read_as_pyjwt_reads_it(segment: bytes) -> None:
    _same(segment)


@pytest.mark.parametrize("segment", [
    b"", b"A", b"AA", b"AAA", b"AAAA", b"AB", b"AQ", b"AR", b"AAB", b"AAE", b"QQ==", b"QR==",
    b"QQ=", b"QQ===", b"Q=Q=", b"+/8", b"-_8", b"-_8=", b"ab cd", b"\xff\xfe", b"eyJ9",
])
def test_edge_segments_are_read_as_pyjwt_reads_them(segment: bytes) -> None:
    _same(segment)


def test_the_decoder_reads_segments_with_the_faster_reader() -> None:
    from jdm_cds.service.auth import _DECODER

    assert isinstance(_DECODER._jws, _JWS)
