import pytest

from shared.adapters.webhook_signing import BadSignature, sign, verify

SECRET = "s3cret"
BODY = b'{"table":"events","type":"INSERT"}'


def test_round_trip():
    verify(SECRET, BODY, sign(SECRET, BODY))


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", "t=abc,v1=00", "t=1,v1=00"],
)
def test_missing_or_malformed_headers_are_refused(header):
    with pytest.raises(BadSignature):
        verify(SECRET, BODY, header)


def test_tampered_body_and_wrong_secret_are_refused():
    header = sign(SECRET, BODY)
    with pytest.raises(BadSignature, match="does not match"):
        verify(SECRET, BODY + b" ", header)
    with pytest.raises(BadSignature, match="does not match"):
        verify("other", BODY, header)


def test_stale_timestamp_is_refused_as_a_replay():
    header = sign(SECRET, BODY, timestamp=1_000_000)
    with pytest.raises(BadSignature, match="window"):
        verify(SECRET, BODY, header, now=1_000_000 + 301)
    verify(SECRET, BODY, header, now=1_000_000 + 299)
