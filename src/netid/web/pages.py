"""The HTML pages' shared machinery: language negotiation, rendering, security headers.

Pages are server-rendered Jinja2 templates (``netid/web/templates``) with autoescaping on and
undefined names an error, so a value is always escaped and a missing one fails the test that
renders it instead of printing nothing. Every page answer carries the same security headers
(:data:`SECURITY_HEADERS`): a strict Content-Security-Policy (no inline script or style, so
templates link ``/static/*`` files only), no framing, no referrer, no caching.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from netid.web.i18n import DEFAULT_LANG, LANGS, MESSAGES, Lang, message

__all__ = [
    "LANGS",
    "SECURITY_HEADERS",
    "STATIC_DIR",
    "TEMPLATE_DIR",
    "Lang",
    "StaticAssets",
    "content_security_policy",
    "match_language",
    "negotiate_language",
    "other_lang_url",
    "render",
    "translator",
]

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Longest Accept-Language header we parse; browsers send well under 200 bytes.
MAX_ACCEPT_LANGUAGE = 1024


def content_security_policy(form_action: Iterable[str] = ()) -> str:
    """The page CSP (CSP Level 3). ``form_action`` adds sources to ``form-action``: browsers
    apply it to the redirects that follow a form submission too (CSP3 §6.4.1 "form-action"
    checks the navigation request of every redirect hop in Chromium), so a form whose POST
    answers with a 303 to a relying party's redirect URI must list that origin."""
    sources = " ".join(["'self'", *form_action])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        # The login page's script polls its status URL (fetch): same origin only.
        "connect-src 'self'; "
        f"form-action {sources}; frame-ancestors 'none'; base-uri 'none'"
    )


SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": content_security_policy(),
    "X-Frame-Options": "DENY",  # for browsers without CSP frame-ancestors
    "Referrer-Policy": "no-referrer",  # page URLs carry transaction ids
    "Cache-Control": "no-store",  # pages show personal data and CSRF tokens
    "X-Content-Type-Options": "nosniff",
}


# -- language ---------------------------------------------------------------------------------
def match_language(tag: str) -> Lang | None:
    """The supported language a BCP 47 tag (RFC 5646) asks for, or None.

    Any Chinese tag (``zh``, ``zh-CN``, ``zh-Hans-CN``, ``zh-TW``) gets zh-CN, the one Chinese
    we have; any English tag gets en. Tags are case-insensitive (RFC 5646 §2.1.1)."""
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    if primary == "zh":
        return "zh-CN"
    if primary == "en":
        return "en"
    return None


def _from_accept_language(header: str) -> Lang | None:
    """The best supported language of an Accept-Language header (RFC 9110 §12.5.4): by
    quality, ties in the order given; ``q=0`` means "not acceptable"; ``*`` matches nothing
    in particular, so it falls through to the default."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header[:MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        lang = match_language(tag)
        if lang is not None:
            return lang
    return None


def negotiate_language(request: Request, ui_locales: str | None = None) -> Lang:
    """The page language: an explicit ``?lang=`` (the switch link) wins, then the relying
    party's ``ui_locales`` (OIDC Core §3.1.2.1: space-separated BCP 47 tags, in order of
    preference), then the browser's Accept-Language, else zh-CN."""
    explicit = request.query_params.get("lang")
    if explicit:
        lang = match_language(explicit)
        if lang is not None:
            return lang
    if ui_locales:
        for tag in ui_locales.split():
            lang = match_language(tag)
            if lang is not None:
                return lang
    accept = request.headers.get("accept-language")
    if accept:
        lang = _from_accept_language(accept)
        if lang is not None:
            return lang
    return DEFAULT_LANG


def other_lang_url(request: Request, lang: Lang) -> str:
    """This page's path and query with ``lang`` set to the other language (a relative URL,
    so the switch never leaves the site whatever the Host header says)."""
    other: Lang = "en" if lang == "zh-CN" else "zh-CN"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    query.append(("lang", other))
    return f"{request.url.path}?{urlencode(query)}"


def translator(lang: Lang) -> Callable[..., str]:
    """``t(key, **values)`` for templates: the message in ``lang`` (netid.web.i18n)."""

    def t(key: str, **values: object) -> str:
        return message(key, lang, **values)

    return t


# -- rendering --------------------------------------------------------------------------------
_environment = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def render(
    name: str,
    *,
    request: Request,
    lang: Lang,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    form_action: Iterable[str] = (),
    **context: Any,
) -> HTMLResponse:
    """Render template ``name`` as a page with the security headers.

    The template sees ``context`` plus ``lang``, ``t`` (the translator), ``other_lang`` and
    ``other_lang_url`` (the language switch) and ``request``. ``headers`` are added after the
    security headers (a caller may override one, e.g. ``Cache-Control``); ``form_action``
    lists extra CSP form-action sources (see :func:`content_security_policy`)."""
    if lang not in MESSAGES["site.name"]:
        raise ValueError(f"unsupported language {lang!r}")
    template = _environment.get_template(name)
    body = template.render(
        {
            **context,
            "request": request,
            "lang": lang,
            "t": translator(lang),
            "other_lang": "en" if lang == "zh-CN" else "zh-CN",
            "other_lang_url": other_lang_url(request, lang),
        }
    )
    answer = HTMLResponse(body, status_code=status_code)
    answer.headers.update(SECURITY_HEADERS)
    form_action = tuple(form_action)
    if form_action:
        answer.headers["Content-Security-Policy"] = content_security_policy(form_action)
    answer.headers["Content-Language"] = lang
    if headers:
        answer.headers.update(headers)
    return answer


class StaticAssets(StaticFiles):
    """``/static``: the pages' CSS and scripts, from the package directory, with nosniff
    (a script served as the wrong type must not run) and a short cache."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR, follow_symlink=False)

    async def get_response(self, path: str, scope: Scope) -> Response:
        answer = await super().get_response(path, scope)
        answer.headers["X-Content-Type-Options"] = "nosniff"
        answer.headers.setdefault("Cache-Control", "public, max-age=300")
        return answer
