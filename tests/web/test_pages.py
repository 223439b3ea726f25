"""The shared page machinery (netid.web.pages, netid.web.i18n): language negotiation, the
security headers, escaping, the language switch, the static files and the message table."""

from __future__ import annotations

import re
import string
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from netid.config import Settings
from netid.container import Container
from netid.web.app import create_app
from netid.web.i18n import LANGS, MESSAGES, message
from netid.web.pages import (
    SECURITY_HEADERS,
    STATIC_DIR,
    TEMPLATE_DIR,
    content_security_policy,
    match_language,
    negotiate_language,
    other_lang_url,
    render,
)


def make_request(
    path: str = "/accounts/password", query: str = "", accept_language: str | None = None
) -> Request:
    headers = [(b"host", b"testserver")]
    if accept_language is not None:
        headers.append((b"accept-language", accept_language.encode("latin-1")))
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("testserver", 80),
            "path": path,
            "root_path": "",
            "query_string": query.encode(),
            "headers": headers,
        }
    )


# -- language negotiation -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "ui_locales", "accept", "expected"),
    [
        ("", None, None, "zh-CN"),  # nothing asked: the default
        ("", None, "en-US,en;q=0.9", "en"),
        ("", None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("", None, "fr-FR, en;q=0.5, zh;q=0.4", "en"),  # the best supported one
        ("", None, "zh;q=0.4, en;q=0.5", "en"),  # by quality, not by position
        ("", None, "en;q=0, zh-TW", "zh-CN"),  # q=0: not acceptable
        ("", None, "fr, de", "zh-CN"),  # none supported
        ("", None, "*", "zh-CN"),
        ("", None, "en;q=oops", "zh-CN"),  # a broken quality counts as 0
        ("", None, "EN-gb", "en"),  # tags are case-insensitive (RFC 5646 §2.1.1)
        ("", None, "zh-Hant-TW", "zh-CN"),
        ("", "en", "zh-CN", "en"),  # ui_locales beats Accept-Language
        ("", "fr-CA en-US zh", "zh-CN", "en"),  # first supported in ui_locales order
        ("", "fr de", "en", "en"),  # none supported in ui_locales: Accept-Language
        ("", "", "en", "en"),
        ("lang=zh-CN", "en", "en", "zh-CN"),  # the explicit switch wins over everything
        ("lang=en", "zh-CN", "zh-CN", "en"),
        ("lang=xx", "en", "zh", "en"),  # an unsupported explicit value is ignored
        ("lang=", None, "en", "en"),
    ],
)
def test_negotiate_language(
    query: str, ui_locales: str | None, accept: str | None, expected: str
) -> None:
    request = make_request(query=query, accept_language=accept)
    assert negotiate_language(request, ui_locales) == expected


def test_match_language() -> None:
    assert match_language("zh") == "zh-CN"
    assert match_language("zh_CN") == "zh-CN"
    assert match_language(" en ") == "en"
    assert match_language("eng") is None
    assert match_language("") is None


def test_a_huge_accept_language_is_cut_not_choked_on() -> None:
    request = make_request(accept_language="fr," * 5000 + "en")
    assert negotiate_language(request) == "zh-CN"  # "en" lies past the parsed prefix


# -- the language switch ----------------------------------------------------------------------
def test_other_lang_url_keeps_the_path_and_query() -> None:
    request = make_request(query="txn=abc&lang=zh-CN&x=1&x=2")
    url = other_lang_url(request, "zh-CN")
    parts = urlsplit(url)
    assert parts.path == "/accounts/password" and not parts.netloc
    assert parse_qsl(parts.query) == [("txn", "abc"), ("x", "1"), ("x", "2"), ("lang", "en")]
    assert parse_qsl(urlsplit(other_lang_url(request, "en")).query)[-1] == ("lang", "zh-CN")


# -- rendering ----------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_render_sets_language_headers_and_frame(lang: str) -> None:
    request = make_request(query="a=1")
    page = render(
        "error.html",
        request=request,
        lang=lang,  # type: ignore[arg-type]
        status_code=400,
        error="invalid_request",
        description="text",
    )
    assert page.status_code == 400
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-language"] == lang
    html = page.body.decode()
    assert f'<html lang="{lang}">' in html
    assert MESSAGES["site.name"][lang] in html  # type: ignore[index]
    assert '<link rel="stylesheet" href="/static/netid.css">' in html
    other = "en" if lang == "zh-CN" else "zh-CN"
    assert f'href="/accounts/password?a=1&amp;lang={other}"' in html
    assert "invalid_request" in html


def test_security_headers_are_exact() -> None:
    assert SECURITY_HEADERS == {
        "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


def test_extra_form_action_sources_and_header_overrides() -> None:
    page = render(
        "error.html",
        request=make_request(),
        lang="en",
        headers={"X-Extra": "1"},
        form_action=["https://rp.example"],
        error="e",
        description="d",
    )
    assert page.headers["content-security-policy"] == content_security_policy(
        ["https://rp.example"]
    )
    assert "form-action 'self' https://rp.example;" in page.headers["content-security-policy"]
    assert page.headers["x-extra"] == "1"
    assert page.headers["x-frame-options"] == "DENY"


def test_context_values_are_escaped() -> None:
    evil = "<script>alert('x')</script>&\""
    page = render(
        "error.html",
        request=make_request(query="q=%22%3E%3Cscript%3E"),
        lang="en",
        error=evil,
        description=evil,
    )
    html = page.body.decode()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#34;" in html
    assert '"><script>' not in html  # the query in the switch link is escaped too


def test_a_missing_context_value_is_an_error() -> None:
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        render("error.html", request=make_request(), lang="en", error="e")


def test_an_unsupported_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        render("error.html", request=make_request(), lang="fr", error="e", description="d")  # type: ignore[arg-type]


def test_templates_have_no_inline_style_or_script() -> None:
    """The CSP forbids them; the browser would drop them silently."""
    for path in TEMPLATE_DIR.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path.name
        assert "<style" not in text and " style=" not in text, path.name
        assert not re.search(r"\son[a-z]+=", text), path.name  # onclick= etc.


def test_every_input_has_a_label() -> None:
    """Accessible forms (WCAG 1.3.1, 3.3.2): every visible input is named by a <label for>."""
    for path in TEMPLATE_DIR.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        labels = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', text))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text):
            if 'type="hidden"' in tag or 'type="submit"' in tag:
                continue
            found = re.search(r'\bid="([^"]+)"', tag)
            assert found and found.group(1) in labels, (path.name, tag)


# -- the message table ------------------------------------------------------------------------
def test_every_message_has_both_languages() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGS), key
        for lang in LANGS:
            assert texts[lang].strip(), (key, lang)
        # The same placeholders in both languages, so t(key, **values) works in each.
        fields = [
            {name for _, name, _, _ in string.Formatter().parse(texts[lang]) if name}
            for lang in LANGS
        ]
        assert fields[0] == fields[1], key


def test_every_key_a_template_uses_exists() -> None:
    used: set[str] = set()
    for path in TEMPLATE_DIR.glob("*.html"):
        used |= set(
            re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", path.read_text("utf-8"))
        )
    assert used and used <= set(MESSAGES), used - set(MESSAGES)


def test_message_formats_values() -> None:
    assert message("account.code_sent_no_hint", "en", minutes=5).endswith("(valid for 5 minutes).")
    with pytest.raises(KeyError):
        message("no.such.key", "en")


# -- static files through the app ----------------------------------------------------------
def test_static_files_are_served(tmp_path: Path) -> None:
    client = TestClient(create_app(Container(Settings(data_dir=tmp_path))))
    css = client.get("/static/netid.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["x-content-type-options"] == "nosniff"
    assert css.text == (STATIC_DIR / "netid.css").read_text(encoding="utf-8")
    assert client.get("/static/nothing.css").status_code == 404
    assert client.get("/static/../pages.py").status_code == 404
