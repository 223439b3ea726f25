"""``/accounts/password``: set or reset the password of a password account (no wallet).

Three pages (docs/decisions/0006 "Without a wallet"): the document number → the code sent
to the registry phone and the new password twice → done. zh-CN / en (``?lang=``, then
Accept-Language). The set-up id travels in a hidden field, never in the URL; the pages never
say whether a number is registered (the code page is the same either way).

Cross-site request forgery: a double-submit token (OWASP CSRF Prevention Cheat Sheet,
"Signed double-submit cookie" without the signature, which a same-site attacker model does
not need here): a random value in the ``netid_csrf`` cookie (HttpOnly, SameSite=Strict,
Secure over https, path /accounts) and in a hidden field, compared in constant time. A form
that fails the check, or any malformed input, answers the form again with a message and 400.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from netid.accounts.errors import CodeInvalid, PasswordTooWeak, Refusal, SetupExpired
from netid.accounts.schemas import CODE_TTL, SECRET_LENGTH
from netid.accounts.service import AccountService
from netid.container import Container
from netid.core.errors import InvalidInput, NetidError
from netid.web.pages import Lang, negotiate_language, render

T = TypeVar("T")
CSRF_COOKIE = "netid_csrf"
CSRF_PATH = "/accounts"
_CSRF_LENGTH = 43  # 32 random bytes, base64url
MAX_FORM_BYTES = 16 * 1024
MAX_FIELD = 256
_MINUTES = int(CODE_TTL.total_seconds() // 60)
_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def run_unit(container: Container, work: Callable[[AccountService], T]) -> T:
    """``work`` in one transaction; a :class:`Refusal` commits its traces, then raises."""
    failure: NetidError | None = None
    with container.transaction() as session:
        try:
            return work(container.accounts(session))
        except Refusal as refusal:
            failure = refusal.error
    assert failure is not None
    raise failure


def _parse_form(body: bytes, content_type: str | None) -> dict[str, str] | None:
    """The fields of an urlencoded form (first value of each), or None if it is not one."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded" or len(body) > MAX_FORM_BYTES:
        return None
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=16,
            errors="strict",
        )
    except (UnicodeError, ValueError):
        return None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if len(value) > MAX_FIELD or "\x00" in value:
            return None
        fields.setdefault(name, value)
    return fields


def _valid_token(value: str | None) -> bool:
    return isinstance(value, str) and len(value) == _CSRF_LENGTH and set(value) <= _SECRET_CHARS


def _csrf_ok(request: Request, form: dict[str, str]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    given = form.get("csrf")
    if cookie is None or given is None or not (_valid_token(cookie) and _valid_token(given)):
        return False
    return hmac.compare_digest(cookie.encode(), given.encode())


def _page(
    request: Request,
    lang: Lang,
    template: str,
    csrf: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    answer = render(
        template, request=request, lang=lang, status_code=status_code, csrf=csrf, **context
    )
    answer.set_cookie(
        CSRF_COOKIE,
        csrf,
        path=CSRF_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


def router(container: Container) -> APIRouter:
    r = APIRouter(tags=["accounts"], include_in_schema=False)

    def start_page(
        request: Request,
        lang: Lang,
        csrf: str,
        *,
        error: str | None = None,
        document_number: str = "",
        status_code: int = 200,
    ) -> HTMLResponse:
        return _page(
            request,
            lang,
            "account_start.html",
            csrf,
            status_code=status_code,
            error=error,
            document_number=document_number,
        )

    def code_page(
        request: Request,
        lang: Lang,
        csrf: str,
        setup_id: str,
        *,
        error: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        return _page(
            request,
            lang,
            "account_code.html",
            csrf,
            status_code=status_code,
            error=error,
            setup_id=setup_id,
            minutes=_MINUTES,
        )

    @r.get("/accounts/password", response_class=HTMLResponse)
    async def password_form(request: Request) -> HTMLResponse:
        """Step 1: the document number."""
        lang = negotiate_language(request)
        cookie = request.cookies.get(CSRF_COOKIE)
        csrf = cookie if cookie is not None and _valid_token(cookie) else _new_token()
        return start_page(request, lang, csrf)

    @r.post("/accounts/password", response_class=HTMLResponse)
    async def password_submit(request: Request) -> HTMLResponse:
        """Step 1 posted (``step=start``: send the code) or step 2 (``step=finish``: code and
        new password twice)."""
        lang = negotiate_language(request)
        form = _parse_form(await request.body(), request.headers.get("content-type"))
        if form is None or not _csrf_ok(request, form):
            return start_page(
                request, lang, _new_token(), error="account.error.form", status_code=400
            )
        csrf = form["csrf"]
        step = form.get("step")
        if step == "start":
            number = form.get("document_number", "").strip()
            if not number or len(number) > 64:
                return start_page(
                    request,
                    lang,
                    csrf,
                    error="account.error.document_number",
                    document_number=number,
                    status_code=400,
                )
            try:
                started = await run_in_threadpool(
                    run_unit, container, lambda s: s.start_setup(number)
                )
            except InvalidInput:  # a number of no known format (nothing was looked up)
                return start_page(
                    request,
                    lang,
                    csrf,
                    error="account.error.document_number",
                    document_number=number,
                    status_code=400,
                )
            # The same page whether or not a code went out: no phone hint (see the template).
            return code_page(request, lang, csrf, started.setup_id)
        if step == "finish":
            setup_id = form.get("setup_id", "")
            if len(setup_id) != SECRET_LENGTH or not set(setup_id) <= _SECRET_CHARS:
                return start_page(
                    request, lang, csrf, error="account.error.code_spent", status_code=400
                )
            code = form.get("code", "").strip()
            password = form.get("password", "")
            if password != form.get("password_again", ""):
                return code_page(
                    request,
                    lang,
                    csrf,
                    setup_id,
                    error="account.error.password_mismatch",
                    status_code=400,
                )
            try:
                await run_in_threadpool(
                    run_unit, container, lambda s: s.finish_setup(setup_id, code, password)
                )
            except PasswordTooWeak:
                return code_page(
                    request,
                    lang,
                    csrf,
                    setup_id,
                    error="account.error.password_weak",
                    status_code=400,
                )
            except CodeInvalid:
                return code_page(
                    request, lang, csrf, setup_id, error="account.error.code", status_code=400
                )
            except SetupExpired:
                return start_page(
                    request, lang, csrf, error="account.error.code_spent", status_code=400
                )
            # A new token after the change: the old one is not needed any more.
            return _page(request, lang, "account_done.html", _new_token())
        return start_page(request, lang, csrf, error="account.error.form", status_code=400)

    return r


def _new_token() -> str:
    return secrets.token_urlsafe(32)
