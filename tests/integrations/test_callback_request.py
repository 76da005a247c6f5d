"""A call-back's headers are read case-insensitively, once, for every adapter."""

from __future__ import annotations

from multidict import CIMultiDict

from integrations.base import CallbackRequest


def test_headers_answer_whatever_the_case_of_the_name() -> None:
    request = CallbackRequest(
        method="POST",
        url="https://app.example/hooks/x",
        headers={"x-zm-signature": "v0=abc", "AUTHORIZATION": "Bearer t"},
        body=b"",
    )
    assert request.headers.get("X-Zm-Signature") == "v0=abc"
    assert request.headers.get("authorization") == "Bearer t"
    assert request.headers.get("Content-Type") is None


def test_repeated_headers_keep_the_first_as_aiohttp_does() -> None:
    received = CIMultiDict([("X-Token", "first"), ("x-token", "second")])
    request = CallbackRequest(method="POST", url="https://a/b", headers=received, body=b"")
    assert request.headers.get("X-TOKEN") == "first"
    assert request.headers.getall("x-token") == ["first", "second"]  # type: ignore[attr-defined]
