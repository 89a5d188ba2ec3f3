"""Redactor: secrets masked by default, PII on request, JSON kept valid, the hook guarded."""

from __future__ import annotations

import json
import logging
import time

import pytest

from llmtrace.tracing._payload import to_json
from llmtrace.tracing._redact import REDACTION_FAILED, Redactor

# Fake credentials are assembled at run time so that secret scanners do not flag this file.
SECRETS = {
    "openai_key": "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6h",
    "openai_legacy": "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4",
    "openai_hex": "sk-" + "0123456789abcdef0123456789abcdef",
    "anthropic_key": "sk-" + "ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-_AbCdEfGhAA",
    "aws_access_key_id": "AKIA" + "IOSFODNN7EXAMPLE",
    "aws_sts": "ASIA" + "Y34FZKBOKMUTVV7A",
    "github_token": "gh" + "p_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "github_pat": "github" + "_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFG",
    "slack_token": "xox" + "b-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "google_api_key": "AI" + "za" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "jwt": "eyJ"
    + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ"
    + "zdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}
LABELS = {
    "openai_legacy": "openai_key",
    "openai_hex": "openai_key",
    "aws_sts": "aws_access_key_id",
    "github_pat": "github_token",
}
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi2s7nN9z8yq5mB0ZrW3pDq1yQo\n"
    "Xk9Jm4aQ0L8w7cV+u/6bT5E1fYp2Z3hN4kR6sW8dG0jH9lC1vB3nM5xZ7qA2eS4t==\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def pii() -> Redactor:
    return Redactor(pii=True)


def masked_json(redactor: Redactor, value: object) -> str:
    """Serialise, redact, check the result is still valid JSON; return it."""
    text = redactor.redact_text(to_json(value, 65536))
    json.loads(text)
    return text


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_secret_in_plain_text(redactor: Redactor, kind: str) -> None:
    secret = SECRETS[kind]
    out = redactor.redact_text(f"use {secret} now.")
    assert out == f"use [REDACTED:{LABELS.get(kind, kind)}] now."


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_secret_inside_json(redactor: Redactor, kind: str) -> None:
    secret = SECRETS[kind]
    value = {
        "message": f"my key:\n{secret}\tthanks",  # right after a JSON escape
        "list": [secret],
        "quoted": f'"{secret}"',
        "tool_args": json.dumps({"key": secret, "n": 1}),  # JSON nested in a JSON string
    }
    out = masked_json(redactor, value)
    assert secret not in out
    assert secret[:12] not in out
    parsed = json.loads(out)
    label = f"[REDACTED:{LABELS.get(kind, kind)}]"
    assert parsed["message"] == f"my key:\n{label}\tthanks"
    assert parsed["list"] == [label]
    assert parsed["quoted"] == f'"{label}"'
    assert json.loads(parsed["tool_args"]) == {"key": label, "n": 1}


def test_private_key_blocks(redactor: Redactor) -> None:
    assert redactor.redact_text(f"key:\n{PEM}\nend") == "key:\n[REDACTED:private_key]\nend"
    out = masked_json(redactor, {"pem": PEM, "other": 1})
    assert json.loads(out) == {"pem": "[REDACTED:private_key]", "other": 1}
    # A block cut short (e.g. by truncation) is masked up to where it stops.
    out = masked_json(redactor, {"pem": PEM[:90]})
    assert json.loads(out) == {"pem": "[REDACTED:private_key]"}
    openssh = PEM.replace("RSA PRIVATE", "OPENSSH PRIVATE")
    assert redactor.redact_text(openssh) == "[REDACTED:private_key]"


def test_bearer_and_authorization(redactor: Redactor) -> None:
    token = "abcDEF123456.ghiJKL789-xyz"
    assert redactor.redact_text(f"Bearer {token}") == "Bearer [REDACTED:bearer_token]"
    assert redactor.redact_text(f"bearer {token}") == "bearer [REDACTED:bearer_token]"
    assert redactor.redact_text(f"Authorization: Bearer {token}\nHost: x") == (
        "Authorization: [REDACTED:authorization]\nHost: x"
    )
    assert redactor.redact_text("authorization: Basic dXNlcjpwYXNz") == (
        "authorization: [REDACTED:authorization]"
    )
    assert redactor.redact_text(f"curl -H 'Authorization: Token {token}' x") == (
        "curl -H 'Authorization: [REDACTED:authorization]' x"
    )
    out = masked_json(redactor, {"headers": {"Authorization": f"Bearer {token}"}})
    assert token not in out


@pytest.mark.parametrize(
    "field",
    [
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "client_secret",
        "api_key",
        "apiKey",
        "x-api-key",
        "API_KEY",
        "apikey",
        "private_key",
        "secret_key",
        "access_token",
        "accessToken",
        "refresh_token",
        "authToken",
        "auth",
        "authorization",
        "Authorization",
        "DB_PASSWORD",
        "user.password",
        "passwordHash",
        "credentials",
        "cookie",
        "set-cookie",
    ],
)
def test_sensitive_json_fields(redactor: Redactor, field: str) -> None:
    out = masked_json(redactor, {field: "hunter2 value", "other": "visible"})
    assert json.loads(out) == {field: "[REDACTED:secret]", "other": "visible"}


@pytest.mark.parametrize(
    "field",
    [
        "max_tokens",
        "tokens",
        "tokenizer",
        "total_tokens",
        "author",
        "passport",
        "bypass",
        "compass",
        "keyboard",
        "monkey",
        "key",
        "secretary",
        "oauth_provider",
        "session_id",
    ],
)
def test_ordinary_fields_are_kept(redactor: Redactor, field: str) -> None:
    value = {field: "plain value", "n": 1}
    assert json.loads(masked_json(redactor, value)) == value


def test_field_values_that_are_not_strings_are_kept(redactor: Redactor) -> None:
    value = {"password": None, "token": 5, "secret": {"public": "yes"}, "api_key": ["a"]}
    assert json.loads(masked_json(redactor, value)) == value


def test_bare_token_field_only_when_credential_like(redactor: Redactor) -> None:
    logprobs = {"content": [{"token": " Paris", "logprob": -0.01}, {"token": "!", "logprob": -1}]}
    assert json.loads(masked_json(redactor, logprobs)) == logprobs
    out = masked_json(redactor, {"token": "0123456789abcdef"})
    assert json.loads(out) == {"token": "[REDACTED:secret]"}


def test_escaped_characters_in_field_values(redactor: Redactor) -> None:
    value = {"password": 'with "quotes" and \\ backslash', "tool": json.dumps({"pwd": 'a"b\\c'})}
    parsed = json.loads(masked_json(redactor, value))
    assert parsed["password"] == "[REDACTED:secret]"
    assert json.loads(parsed["tool"]) == {"pwd": "[REDACTED:secret]"}


def test_repr_and_assignment_forms(redactor: Redactor) -> None:
    assert redactor.redact_text("{'password': 'x1', 'n': 1}") == (
        "{'password': '[REDACTED:secret]', 'n': 1}"
    )
    assert redactor.redact_text("User(name='a', password='hunter2')") == (
        "User(name='a', password='[REDACTED:secret]')"
    )
    assert redactor.redact_text("https://h/db?user=u&password=hunter2&ssl=1") == (
        "https://h/db?user=u&password=[REDACTED:secret]&ssl=1"
    )
    assert redactor.redact_text("OPENAI_API_KEY=abc123 python app.py") == (
        "OPENAI_API_KEY=[REDACTED:secret] python app.py"
    )
    out = masked_json(redactor, {"cmd": 'run --password="p w" --verbose'})
    assert json.loads(out) == {"cmd": 'run --password="[REDACTED:secret]" --verbose'}


@pytest.mark.parametrize(
    "text",
    [
        "Please summarise the task-management-system-for-teams document.",
        "risk-assessment-framework-and-disk-usage-report",
        "We use sk-learn-model-training-pipeline for this.",
        "Ask questions about the asks and tasks.",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b",
        "on 2024-01-15T10:30:00Z it cost $1,299.99",
        "The bearer of bad news arrived; Bearer instrumentation is fine.",
        "The authorization: process needs two people.",
        "the key to success, a monkey on a keyboard",
        "AKIA is not a key, nor is ASIA or AIza",
        "eyJ alone is not a JWT",
        '{"model": "gpt-4o-mini", "max_tokens": 256, "temperature": 0.2}',
        "passwords should be long; the password policy is strict",
    ],
)
def test_no_false_positives(redactor: Redactor, text: str) -> None:
    assert redactor.redact_text(text) == text


def test_secrets_can_be_turned_off() -> None:
    text = f'{{"password": "x", "k": "{SECRETS["openai_key"]}"}}'
    assert Redactor(secrets=False).redact_text(text) == text
    assert not Redactor(secrets=False).active


def test_redaction_is_idempotent(pii: Redactor) -> None:
    text = masked_json(
        pii,
        {
            "password": "x",
            "k": SECRETS["openai_key"],
            "mail": "bob@example.com",
            "card": "4111 1111 1111 1111",
        },
    )
    assert pii.redact_text(text) == text


def test_non_ascii_text_keeps_positions(redactor: Redactor) -> None:
    # "İ" lower-cases to two characters; field masking works on positions of the original.
    out = masked_json(redactor, {"İİİ": "x", "password": "hunter2", "ß": "ok"})
    assert json.loads(out) == {"İİİ": "x", "password": "[REDACTED:secret]", "ß": "ok"}


# --- personal data -----------------------------------------------------------------------------

PII_POSITIVE = {
    "email": ["bob@example.com", "first.last+tag@mail.example.co.uk"],
    "phone": [
        "+1 415 555 0100",
        "+44 20 7946 0958",
        "+33 1 23 45 67 89",
        "+4915123456789",
        "(555) 123-4567",
        "555-123-4567",
        "555.123.4567",
        "1-800-555-0199",
    ],
    "card": ["4111 1111 1111 1111", "4111-1111-1111-1111", "5500005555555559", "378282246310005"],
    "iban": ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"],
}


def test_pii_is_off_by_default(redactor: Redactor) -> None:
    for values in PII_POSITIVE.values():
        for value in values:
            assert redactor.redact_text(f"x {value} y") == f"x {value} y"


@pytest.mark.parametrize(("kind", "value"), [(k, v) for k, vs in PII_POSITIVE.items() for v in vs])
def test_pii_masked_when_enabled(pii: Redactor, kind: str, value: str) -> None:
    assert pii.redact_text(f"contact: {value}, thanks") == f"contact: [REDACTED:{kind}], thanks"
    out = masked_json(pii, {"note": f"line\n{value}\n", "v": value})
    assert json.loads(out) == {"note": f"line\n[REDACTED:{kind}]\n", "v": f"[REDACTED:{kind}]"}


def test_email_after_unicode_escape_keeps_json_valid(pii: Redactor) -> None:
    out = masked_json(pii, {"m": "\x1bbob@example.com"})  # encoded as \u001b
    assert json.loads(out) == {"m": "\x1b[REDACTED:email]"}


def test_luhn_validation(pii: Redactor) -> None:
    assert pii.redact_text("4111111111111111") == "[REDACTED:card]"
    assert pii.redact_text("4111111111111112") == "4111111111111112"  # Luhn fails
    # Luhn-valid but no card network starts with 9: a random id, not a card.
    assert pii.redact_text("9111111111111119") == "9111111111111119"
    assert pii.redact_text("order id 1234567890123456") == "order id 1234567890123456"


@pytest.mark.parametrize(
    "text",
    [
        "in 2024 we sold 1,299.99 units for $19.99 each",
        "order 1234567890 shipped",
        "timestamp 1700000000000",
        "2024-01-15T10:30:00.123-0500",
        "date 15/01/2024 at 12:30:45",
        "version 1.2.3.4 on 192.168.100.200",
        "value 123.456.7890.1",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "sha 3f786850e387550fdab836ed7e6dc881de23001b",
        "ISBN 978-3-16-148410-0",
        "score +100 points, ratio 3.14159265358979",
        "coordinates 37.7749295, -122.4194155",
        "DE89 is just a code",
        "mail me at bob@ or @handle",
        '{"max_tokens": 1024, "seed": 123456789, "n": 3}',
    ],
)
def test_pii_false_positives(pii: Redactor, text: str) -> None:
    assert pii.redact_text(text) == text


# --- hook --------------------------------------------------------------------------------------


def test_hook_transforms_values() -> None:
    seen: list[str] = []

    def hook(kind: str, value: object) -> object:
        seen.append(kind)
        if isinstance(value, dict):
            return {k: ("***" if k == "ssn" else v) for k, v in value.items()}
        return value

    r = Redactor(hook=hook)
    assert r.redact_value("inputs", {"ssn": "123-45-6789", "q": "hi"}) == {"ssn": "***", "q": "hi"}
    assert r.redact_value("outputs", "answer") == "answer"
    assert seen == ["inputs", "outputs"]
    assert Redactor().redact_value("inputs", {"a": 1}) == {"a": 1}


def test_failing_hook_gives_placeholder_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    def hook(kind: str, value: object) -> object:
        raise ValueError("hook bug")

    r = Redactor(hook=hook)
    with caplog.at_level(logging.DEBUG, logger="llmtrace"):
        assert r.redact_value("inputs", {"password": "hunter2"}) == REDACTION_FAILED
        assert r.redact_value("outputs", "secret") == REDACTION_FAILED
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == "llmtrace"
    assert "inputs" in warnings[0].getMessage()
    assert warnings[0].exc_info is not None
    assert "hunter2" not in caplog.text


def test_serialize_runs_hook_bounds_and_masks() -> None:
    r = Redactor(hook=lambda kind, value: {"wrapped": value, "kind": kind})
    out = r.serialize("inputs", {"password": "hunter2", "q": "hi"}, 1000)
    assert json.loads(out) == {
        "wrapped": {"password": "[REDACTED:secret]", "q": "hi"},
        "kind": "inputs",
    }
    failing = Redactor(hook=lambda kind, value: 1 / 0)
    assert failing.serialize("outputs", "x", 1000) == json.dumps(REDACTION_FAILED)


def test_serialize_masks_a_secret_cut_by_truncation() -> None:
    secret = SECRETS["openai_legacy"]
    for pad in range(100, 130, 3):
        text = "a " * pad + secret + " b" * 10_000
        out = Redactor().serialize("inputs", {"text": text}, 1000)
        assert len(out.encode()) <= 1000
        json.loads(out)
        assert secret[3:11] not in out  # not even a prefix of the key


# --- speed -------------------------------------------------------------------------------------


def test_clean_text_is_cheap(redactor: Redactor) -> None:
    clean = json.dumps(
        {
            "question": "What is the capital of France? Answer in one word.",
            "context": "Geography quiz for school children, level one.",
            "n": 3,
        }
    )
    start = time.perf_counter()
    for _ in range(2000):
        redactor.redact_text(clean)
    # Typically a few microseconds per call; the bound only catches pathological regressions.
    assert (time.perf_counter() - start) / 2000 < 200e-6


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "sk-" * 30_000,
        '"' * 100_000,
        "1" * 100_000,
        "1 " * 50_000,
        "+1" * 50_000,
        "@" * 50_000,
        "a@" * 50_000,
        "password" * 10_000,
        '"password":"' * 10_000,
        "Bearer " * 10_000,
        "-----BEGIN PRIVATE KEY-----" + "A" * 100_000,
        "AB12" * 25_000,
        "eyJ" + "a" * 100_000,
        "xoxb-" + "1-" * 50_000,
    ],
    ids=lambda t: repr(t[:12]),
)
def test_no_catastrophic_backtracking(pii: Redactor, text: str) -> None:
    start = time.perf_counter()
    pii.redact_text(text)
    assert time.perf_counter() - start < 2.0
