"""Secrets are never shown or saved: credentials in URLs and literal values of secret-looking headers are replaced by
``***`` in every text orchbench prints (see :func:`orchbench.support.console.safe_text`) and every document it saves.

- ``http://user:sk-SECRET@host/`` → ``http://user:***@host/`` (the password of a URL's user information);
- ``X-Api-Key=sk-1`` / ``Authorization: Bearer abc`` → ``X-Api-Key=***`` / ``Authorization: ***``, for header names
  that look secret (:func:`is_secret_name`). A value written as an environment variable (``$API_KEY``,
  ``Bearer ${TOKEN}``) is kept: it names where the secret is, not the secret; so is a placeholder in capitals
  (``KEY=VALUE``), as messages write them.

Generic on purpose: it knows nothing of any workload, so every command, report and plugin text goes through it.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

_SECRET_NAME = re.compile(
    r"(?ix)^(?:"
    r"authorization|proxy-authorization|cookie|set-cookie"
    r"|.*(?:^|[-_])(?:api[-_]?)?(?:key|token)s?"  # X-Api-Key, Private-Token, apikey, x-auth-token
    r"|(?:.*[-_])?auth(?:[-_].*)?"  # X-Auth, Auth-User
    r"|.*(?:secret|password|passwd|credential).*"
    r")$"
)
# scheme://user:password@ — the password is everything up to the @ that ends the authority's user information
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@?#]*):([^/\s@?#]+)@")
# Name=value or Name: value of a header (or option): the name, then (matched at its end) the value, up to ; , & = white
# space or a quote; a bearer-like scheme word goes with its value
_NAME = re.compile(r"(?i)(?<![\w-])([a-z][\w-]*)(\s*[=:]\s*)")
_VALUE = re.compile(r"(?i)(?:(?:bearer|basic|token|digest)\s+)?[^\s;,'\"&=]+")
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]{0,11}$")  # KEY=VALUE, Authorization=TOKEN: how a message says what to write
_VARIABLE_ONLY = re.compile(r"^(?:(?:bearer|basic|token|digest)\s+)?\$(?:\{\w+\}|\w+)$", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether a header (or option) named so carries a secret: Authorization, Proxy-Authorization, Cookie, any
    ``*-Key``/``*-Token`` (``X-Api-Key``, ``Private-Token``), ``*-Auth``, and names holding secret, password or
    credential."""
    return bool(_SECRET_NAME.match(name.strip()))


def redact_value(name: str, value: str) -> str:
    """``value`` of the header or option ``name``: ``***`` when the name looks secret and the value is literal."""
    bare = value.strip()
    if not is_secret_name(name) or _VARIABLE_ONLY.match(bare) or bare == MASK or _PLACEHOLDER.match(bare):
        return value
    return MASK


def redact_text(text: str) -> str:
    """``text`` with URL passwords and literal values of secret-named headers replaced by ``***``."""
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    if "=" not in text and ":" not in text:
        return text
    out: list[str] = []
    done = 0
    for name in _NAME.finditer(text):
        if name.start() < done or not is_secret_name(name.group(1)):
            continue
        value = _VALUE.match(text, name.end())
        if value is None or value.group().startswith("//"):  # nothing, or a URL's scheme
            continue
        out += [text[done : name.end()], redact_value(name.group(1), value.group())]
        done = value.end()
    return "".join(out) + text[done:]


KEPT = frozenset({"output"})  # a run's output is data to verify, compared exactly: never altered


def scrub(value: Any) -> Any:
    """A copy of a JSON-like value with every string redacted (:func:`redact_text`) and every string under a
    secret-looking key masked (``{"Authorization": "Bearer x"}``); values under :data:`KEPT` keys and non-strings
    unchanged."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: item
            if key in KEPT
            else redact_value(key, redact_text(item))
            if isinstance(key, str) and isinstance(item, str)
            else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value
