"""Masking of secrets and (optionally) personal data in captured payloads.

Two stages, both cheap enough to run on every traced call:

1. `Redactor.redact_value(kind, value)` runs the user's hook on the raw value before it is
   serialised (`kind` is ``"inputs"``, ``"outputs"`` or an attribute key). A hook that raises
   never lets the original value through: the value becomes ``"<redaction failed>"`` and the
   failure is logged on the ``llmtrace`` logger (a warning the first time, debug afterwards).
2. `Redactor.redact_text(text)` masks the built-in patterns in the serialised JSON text. Each
   pattern starts with a literal (``sk-``, ``AKIA``, ...) or is found from a cheap substring
   test, so a clean payload costs a few substring searches and no regular-expression scan.

`Redactor.serialize(kind, value, max_bytes)` does both around `to_json`, masking before the
size limit is applied so that the limit holds and no secret is cut in half by truncation.

Replacements look like ``[REDACTED:openai_key]``. They contain no quote or backslash, no
pattern reaches across a ``"`` and no match starts inside a JSON escape (``\\n``, ``\\u001b``),
so JSON text stays valid.

Secret patterns (``secrets=True``, the default)
    ``openai_key`` (``sk-…``, ``sk-proj-…``), ``anthropic_key`` (``sk-ant-…``),
    ``aws_access_key_id`` (``AKIA…``/``ASIA…``), ``github_token`` (``ghp_…``, ``github_pat_…``),
    ``slack_token`` (``xoxb-…``), ``google_api_key`` (``AIza…``), ``jwt``, ``private_key``
    (PEM blocks, also when cut short), ``bearer_token`` (``Bearer <token>``, the word is
    kept), ``authorization`` (the value of an ``Authorization: …`` header line) and
    ``secret``: the string value of a field whose name has a sensitive word as one of its
    parts — password, passwd, passphrase, pwd, secret(s), token, auth, authorization,
    credential(s), cookie, api_key/apikey, private/secret/signing/encryption/master/client key —
    split at ``_ - .`` or a camelCase boundary, so ``accessToken`` and ``DB_PASSWORD`` match
    while ``max_tokens``, ``tokenizer`` or ``author`` do not. Fields are recognised in JSON
    (``"k": "v"``), JSON nested in a JSON string (``\\"k\\": \\"v\\"``), Python reprs
    (``'k': 'v'``) and ``k=v`` pairs. A field named exactly ``token`` is only masked when its
    value looks like a credential (8+ characters, no whitespace), so that LLM log-prob entries
    (``{"token": " Paris", "logprob": -0.01}``) survive.

Personal data patterns (``pii=True``, off by default)
    ``email``; ``card``: 13-19 digits (spaces or dashes allowed) with a known network prefix
    that pass the Luhn check; ``iban``: validated with its mod-97 check digits; ``phone``:
    ``+`` international numbers with 8-15 digits, and North American numbers written with
    separators (``(555) 123-4567``, ``555-123-4567``, ``1 555 123 4567``). Bare digit runs
    (ids, years, prices, timestamps) are never taken for phone numbers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from llmtrace.tracing._payload import to_json

__all__ = ["REDACTION_FAILED", "Redactor"]

logger = logging.getLogger("llmtrace")

REDACTION_FAILED = "<redaction failed>"


def _after(n: int, forbidden: str = "A-Za-z0-9") -> str:
    """Assertion placed after an `n`-character literal: what precedes the literal is not in
    `forbidden`, or is a JSON escape (whose last letter is not part of the token).

    Checking after the literal (instead of a lookbehind before it) keeps the literal at the
    start of the pattern, where the regex engine searches for it at C speed.
    """
    return (
        rf"(?:(?<![{forbidden}].{{{n}}})|(?<=\\[nrtbf].{{{n}}})"
        rf"|(?<=\\u[0-9A-Fa-f]{{4}}.{{{n}}}))"
    )


class _Rule:
    __slots__ = ("gate", "group", "label", "pattern", "validate")

    def __init__(
        self,
        label: str,
        pattern: str,
        *,
        gate: tuple[str, ...] = (),
        group: str | None = None,
        validate: Callable[[str], bool] | None = None,
    ) -> None:
        self.label = f"[REDACTED:{label}]"
        self.pattern = re.compile(pattern)
        # Substrings one of which every match contains. A substring test costs a fraction of
        # even a literal-prefixed regex search, so the pattern only runs when one is present.
        self.gate = gate
        self.group = group
        self.validate = validate

    def replace(self, m: re.Match[str]) -> str:
        text = m.group(0)
        if self.validate is not None and not self.validate(text):
            return text
        if self.group is None:
            return self.label
        start = m.start()
        return text[: m.start(self.group) - start] + self.label + text[m.end(self.group) - start :]


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_ok(text: str) -> bool:
    digits = "".join(ch for ch in text if ch.isdigit())
    if not 13 <= len(digits) <= 19:
        return False
    # Visa 4, Mastercard 51-55/2221-2720, Amex 34/37, Discover 6, JCB 35, Diners 30/36/38,
    # UnionPay 62: with Luhn this leaves random ids alone far more often than Luhn alone.
    if digits[0] not in "3456" and not 2221 <= int(digits[:4]) <= 2720:
        return False
    return _luhn_ok(digits)


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _intl_phone_ok(text: str) -> bool:
    return 8 <= sum(ch.isdigit() for ch in text) <= 15


_TOKEN_CHARS = r"[A-Za-z0-9_\-]"
# Token literals must start a run of token characters. Besides avoiding matches inside longer
# words, this makes each run tried once (linear time on inputs like "sk-sk-sk-...").
_TOKEN_BEFORE = r"A-Za-z0-9_\-"
_DIGIT_RUN = re.compile(r"[0-9][0-9 ().\-]{6,}[0-9]")

# Secret rules gated on the lower-cased text (the words may be written in any case).
_CASELESS_RULES = (
    _Rule(
        "authorization",
        rf"(?P<name>(?:[Aa]uthorization|AUTHORIZATION){_after(13)}\s*[:=]\s*)"
        r"(?P<value>(?i:basic|bearer|digest|negotiate|token|apikey|aws4-hmac-sha256)[ \t]+"
        r"[^\"'\\\r\n]+|(?=[^\s\"'\\]{0,64}[0-9])[^\s\"'\\]{16,})",
        gate=("authorization",),
        group="value",
    ),
    _Rule(
        "bearer_token",
        rf"(?P<name>[Bb](?:earer|EARER){_after(6)}\s+)"
        r"(?P<value>(?=[A-Za-z0-9\-._~+/]{0,64}[0-9\-._~+/])[A-Za-z0-9\-._~+/]{16,}=*)",
        gate=("bearer",),
        group="value",
    ),
)

# Secret rules that start with a case-sensitive literal, gated on the text itself.
_TOKEN_RULES = (
    _Rule(
        "private_key",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[A-Za-z0-9+/=\s]|\\[nr]|(?:Proc-Type|DEK-Info|Version|Comment):[^\"\\\n]*)*"
        r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?",
        gate=("-----BEGIN",),
    ),
    _Rule(
        "anthropic_key",
        rf"sk-ant-{_after(7, _TOKEN_BEFORE)}{_TOKEN_CHARS}{{20,}}",
        gate=("sk-ant-",),
    ),
    _Rule(
        # Random keys contain a digit and an upper-case letter (or are long lower-case
        # hex/base36); that keeps words such as "sk-learn-model-pipeline" unmasked.
        "openai_key",
        rf"sk-{_after(3, _TOKEN_BEFORE)}(?:(?:proj|svcacct|admin)-)?"
        rf"(?:(?={_TOKEN_CHARS}{{0,64}}[0-9])(?={_TOKEN_CHARS}{{0,64}}[A-Z]){_TOKEN_CHARS}{{20,}}"
        rf"|(?=[a-z]{{0,64}}[0-9])[a-z0-9]{{32,}}(?!{_TOKEN_CHARS}))",
        gate=("sk-",),
    ),
    _Rule(
        "aws_access_key_id",
        rf"A[KS]IA{_after(4)}[A-Z0-9]{{16}}(?![A-Za-z0-9])",
        gate=("AKIA", "ASIA"),
    ),
    _Rule("github_token", rf"gh[pousr]_{_after(4)}[A-Za-z0-9]{{36,}}", gate=("gh",)),
    _Rule(
        "github_token",
        rf"github_pat_{_after(11)}[A-Za-z0-9_]{{22,}}",
        gate=("github_pat_",),
    ),
    _Rule(
        "slack_token",
        rf"xox{_after(3, _TOKEN_BEFORE)}[abposr]-(?=[A-Za-z0-9\-]{{0,64}}[0-9])"
        r"[A-Za-z0-9\-]{10,}",
        gate=("xox",),
    ),
    _Rule(
        "google_api_key",
        rf"AIza{_after(4, _TOKEN_BEFORE)}{_TOKEN_CHARS}{{35}}(?!{_TOKEN_CHARS})",
        gate=("AIza",),
    ),
    _Rule(
        "jwt",
        rf"eyJ{_after(3, _TOKEN_BEFORE)}{_TOKEN_CHARS}{{5,}}\.eyJ{_TOKEN_CHARS}{{5,}}"
        rf"\.{_TOKEN_CHARS}*",
        gate=("eyJ",),
    ),
)

_PHONE_BEFORE = r"A-Za-z0-9_.+\-/"
_CARD_BEFORE = r"A-Za-z0-9_.\-"
# Not followed by more digits, also not after a dot or dash ("123.456.7890.1" is no phone).
_PHONE_END = r"(?![0-9]|[.\-][0-9])"
_PII_RULES = (
    _Rule(
        "card",
        rf"[0-9]{_after(1, _CARD_BEFORE)}(?:[ \-]?[0-9]){{12,18}}(?![0-9])",
        validate=_card_ok,
    ),
    _Rule(
        "iban",
        rf"[A-Z]{{2}}[0-9]{{2}}{_after(4)}(?:[ ]?[A-Z0-9]{{4}}){{2,7}}(?:[ ]?[A-Z0-9]{{1,3}})?"
        r"(?![A-Za-z0-9])",
        validate=_iban_ok,
    ),
    _Rule(
        "phone",
        rf"\+{_after(1, _PHONE_BEFORE)}[1-9][0-9]{{0,2}}(?:[ .\-]?\(?[0-9]{{1,5}}\)?){{1,6}}"
        rf"{_PHONE_END}",
        validate=_intl_phone_ok,
    ),
    _Rule(
        # North American numbers need separators; a bare run of 10 digits is an id.
        "phone",
        rf"(?:\({_after(1, _PHONE_BEFORE)}[0-9]{{3}}\)[ .\-]?"
        rf"|[0-9]{_after(1, _PHONE_BEFORE)}(?:(?<=1)[ .\-](?:\([0-9]{{3}}\)[ .\-]?"
        rf"|[0-9]{{3}}[ .\-])|[0-9]{{2}}[ .\-]))[0-9]{{3}}[ .\-][0-9]{{4}}{_PHONE_END}",
    ),
)

# --- sensitive field names -------------------------------------------------------------------
_FIELD_ANCHORS = ("pass", "pwd", "secret", "token", "auth", "credential", "cookie", "key")


# One C-level scan of the lower-cased text that clean text (most payloads) fails: every field
# anchor and rule gate, lower-cased and without those containing another, so it can only let
# through more text than the exact checks below, never less.
def _gate_words() -> list[str]:
    words = {
        g.lower()
        for g in (*_FIELD_ANCHORS, *(g for r in (*_CASELESS_RULES, *_TOKEN_RULES) for g in r.gate))
    }
    return sorted(w for w in words if not any(o != w and o in w for o in words))


_SECRET_GATE = re.compile("|".join(re.escape(w) for w in _gate_words()))
_FIELD_WORD = re.compile(
    r"pass(?:word|wd|phrase)?|pwd|secrets?|token|auth(?:orization)?|credentials?|cookie"
)
_KEY_PREFIX = re.compile(r"(?:api|private|secret|signing|encryption|master|client)[_\-]?$")
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_KEY = 48
_JSON_VALUE = re.compile(r'"\s*:\s*"(?P<v>(?:[^"\\]|\\.)*)"')
# JSON inside a JSON string: quotes appear as \" and the inner value's escapes are doubled.
_NESTED_VALUE = re.compile(r'\\"\s*:\s*\\"(?P<v>(?:[^"\\]|\\\\(?:\\["\\]|[^"\\])|\\[^"\\])*)\\"')
_REPR_VALUE = re.compile(r"'\s*:\s*'(?P<v>(?:[^'\"\\]|\\[^\"])*)'")
_ASSIGN_VALUE = re.compile(
    r"=(?:'(?P<q1>[^'\"\\]*)'|\\\"(?P<q2>[^\"\\]*)\\\"|(?P<v>[^\s&\"'\\,;)}\]]+))"
)
_FIELD_LABEL = "[REDACTED:secret]"


def _is_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _word_bounded(text: str, start: int, end: int) -> bool:
    """True if text[start:end] is a whole part of a name (``_ - .`` or camelCase split)."""
    if start > 0:
        before = text[start - 1]
        if _is_alnum(before) and not (
            (before.islower() or before.isdigit()) and text[start].isupper()
        ):
            return False
    if end < len(text):
        after = text[end]
        if _is_alnum(after) and not (text[end - 1].islower() and after.isupper()):
            return False
    return True


def _backslashes_before(text: str, pos: int) -> int:
    n = 0
    while pos - n - 1 >= 0 and text[pos - n - 1] == "\\":
        n += 1
    return n


def _field_value_span(text: str, key_start: int, key_end: int) -> tuple[int, int] | None:
    """Span of the string value assigned to the name text[key_start:key_end], if any."""
    before = text[key_start - 1] if key_start > 0 else ""
    if before == '"':
        if _backslashes_before(text, key_start - 1) % 2:
            m = _NESTED_VALUE.match(text, key_end)
        else:
            m = _JSON_VALUE.match(text, key_end)
    elif before == "'":
        m = _REPR_VALUE.match(text, key_end)
    else:
        m = None
    if m is None:  # also covers "password=x" inside a JSON string
        m = _ASSIGN_VALUE.match(text, key_end)
    if m is None:
        return None
    group = m.lastgroup or "v"
    value = m.group(group)
    if text[key_start:key_end].lower() == "token" and (
        len(value) < 8 or any(ch.isspace() for ch in value)
    ):
        # A bare "token" field is also what LLM log-prob entries use.
        return None
    return m.start(group), m.end(group)


def _field_spans(text: str, low: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    seen: set[int] = set()
    for anchor in _FIELD_ANCHORS:
        pos = low.find(anchor)
        while pos != -1:
            if anchor == "key":
                m = _KEY_PREFIX.search(low, max(0, pos - 12), pos)
                word_start, word_end = (m.start(), pos + 3) if m else (-1, -1)
            else:
                w = _FIELD_WORD.match(low, pos)
                word_start, word_end = (pos, w.end()) if w else (-1, -1)
            if word_start >= 0 and _word_bounded(text, word_start, word_end):
                key_start = word_start
                floor = max(0, word_start - _MAX_KEY)
                while key_start > floor and text[key_start - 1] in _KEY_CHARS:
                    key_start -= 1
                key_end = word_end
                ceiling = min(len(text), word_end + _MAX_KEY)
                while key_end < ceiling and text[key_end] in _KEY_CHARS:
                    key_end += 1
                if key_start not in seen:
                    seen.add(key_start)
                    span = _field_value_span(text, key_start, key_end)
                    if span is not None:
                        spans.append(span)
            pos = low.find(anchor, pos + 1)
    return spans


# --- e-mail addresses ------------------------------------------------------------------------
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}$")
_EMAIL_DOMAIN = re.compile(
    r"[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_HEX = frozenset("0123456789abcdefABCDEF")


def _email_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    at = text.find("@")
    while at != -1:
        local = _EMAIL_LOCAL.search(text, max(0, at - 64), at)
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        if local is not None and domain is not None:
            start = local.start()
            # Never start inside a JSON escape: "\nbob@x.io" must keep its "\n".
            if start > 0 and _backslashes_before(text, start) % 2:
                start += 5 if text[start] == "u" and set(text[start + 1 : start + 5]) <= _HEX else 1
            if start < at:
                spans.append((start, domain.end()))
        at = text.find("@", domain.end() if domain is not None else at + 1)
    return spans


def _apply_spans(text: str, spans: list[tuple[int, int]], label: str) -> str:
    spans.sort()
    parts: list[str] = []
    last = 0
    for start, end in spans:
        if start < last:  # overlapping spans: already masked
            continue
        parts.append(text[last:start])
        parts.append(label)
        last = end
    parts.append(text[last:])
    return "".join(parts)


class Redactor:
    """Masks secrets (default) and personal data (``pii=True``) and runs a user hook.

    `hook(kind, value) -> value` is called by `redact_value` on raw payloads; `kind` is
    ``"inputs"``, ``"outputs"`` or an attribute key. Instances are immutable apart from the
    "already warned" flag and can be shared between threads.

    >>> r = Redactor()
    >>> r.redact_text('{"api_key": "abc123", "q": "hi"}')
    '{"api_key": "[REDACTED:secret]", "q": "hi"}'
    >>> Redactor(pii=True).redact_text("mail bob@example.com")
    'mail [REDACTED:email]'
    """

    __slots__ = ("_hook", "_hook_failed", "_pii", "_secrets")

    def __init__(
        self,
        *,
        secrets: bool = True,
        pii: bool = False,
        hook: Callable[[str, object], object] | None = None,
    ) -> None:
        self._secrets = secrets
        self._pii = pii
        self._hook = hook
        self._hook_failed = False

    @property
    def active(self) -> bool:
        """True when `redact_text` can change anything (a built-in pattern set is enabled)."""
        return self._secrets or self._pii

    def redact_value(self, kind: str, value: object) -> object:
        """Run the user hook on a raw value; without a hook, return `value` unchanged.

        If the hook raises, the result is ``"<redaction failed>"``, never the original value.

        >>> Redactor(hook=lambda kind, v: {"n": len(v)}).redact_value("inputs", "secret")
        {'n': 6}
        """
        hook = self._hook
        if hook is None:
            return value
        try:
            return hook(kind, value)
        except Exception:
            if not self._hook_failed:
                self._hook_failed = True
                logger.warning(
                    "llmtrace redaction hook failed on %s; the value was replaced by %r "
                    "(further failures are logged at debug level)",
                    kind,
                    REDACTION_FAILED,
                    exc_info=True,
                )
            else:
                logger.debug("llmtrace redaction hook failed on %s", kind, exc_info=True)
            return REDACTION_FAILED

    def redact_text(self, text: str) -> str:
        """Mask built-in secret (and, if enabled, PII) patterns in `text`. Never raises.

        Works on JSON text (the result stays valid JSON) as well as on plain text. Should the
        masking itself fail, the whole text is replaced by ``"<redaction failed>"``.

        >>> Redactor().redact_text("key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t end")
        'key [REDACTED:openai_key] end'
        """
        if not text or not (self._secrets or self._pii):
            return text
        try:
            if self._secrets:
                text = self._mask_secrets(text)
            if self._pii:
                text = self._mask_pii(text)
            return text
        except Exception:  # pragma: no cover - defensive: never let the original through
            logger.debug("llmtrace redaction failed", exc_info=True)
            return f'"{REDACTION_FAILED}"'

    def serialize(self, kind: str, value: object, max_bytes: int) -> str:
        """Hook, serialise (bounded to `max_bytes`) and mask in one call. Never raises.

        >>> Redactor().serialize("inputs", {"password": "hunter2"}, 1000)
        '{"password":"[REDACTED:secret]"}'
        """
        value = self.redact_value(kind, value)
        return to_json(value, max_bytes, redact=self.redact_text if self.active else None)

    def _mask_secrets(self, text: str) -> str:
        low = text.lower()
        if _SECRET_GATE.search(low) is None:
            return text
        if len(low) != len(text):  # a few non-ASCII letters lower-case to two characters
            low = "".join(ch.lower() if ch.isascii() else "\0" for ch in text)
        spans = _field_spans(text, low)
        if spans:
            text = _apply_spans(text, spans, _FIELD_LABEL)
            low = text.lower()
        for rule in _CASELESS_RULES:
            for gate in rule.gate:
                if gate in low:
                    text = rule.pattern.sub(rule.replace, text)
                    break
        for rule in _TOKEN_RULES:
            for gate in rule.gate:
                if gate in text:
                    text = rule.pattern.sub(rule.replace, text)
                    break
        return text

    def _mask_pii(self, text: str) -> str:
        if "@" in text:
            spans = _email_spans(text)
            if spans:
                text = _apply_spans(text, spans, "[REDACTED:email]")
        # Card, IBAN and phone numbers all contain a run of 8+ digits and separators; one
        # search for that spares three scans of clean text.
        if _DIGIT_RUN.search(text) is not None:
            for rule in _PII_RULES:
                text = rule.pattern.sub(rule.replace, text)
        return text
