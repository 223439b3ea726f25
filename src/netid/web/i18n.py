"""The words of the HTML pages, in the two languages the service speaks (zh-CN, en).

Every key has both languages (tests/web/test_pages.py checks it). Messages are plain text:
the templates autoescape them, so a message never carries markup. Placeholders use
``str.format`` names (``{minutes}``) and are filled by ``t(key, minutes=5)`` in a template.

Keys are grouped by page: ``site.*`` (the frame every page shares), ``error.*`` (the error
page and the OAuth error texts), ``account.*`` (``/accounts/password``); the OpenID Connect
pages' ``oidc.*`` live in :mod:`netid.web.i18n_oidc` and are merged in below.
"""

from __future__ import annotations

from typing import Literal

from netid.web.i18n_oidc import OIDC_MESSAGES

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")
DEFAULT_LANG: Lang = "zh-CN"

MESSAGES: dict[str, dict[Lang, str]] = {
    # -- the frame (base.html) ---------------------------------------------------------------
    "site.name": {"zh-CN": "网络身份认证", "en": "Network identity"},
    "site.switch_language": {"zh-CN": "English", "en": "中文"},
    "site.switch_language_label": {
        "zh-CN": "Switch to English",
        "en": "切换到中文",
    },
    "site.skip_to_content": {"zh-CN": "跳到正文", "en": "Skip to content"},
    "site.footer": {
        "zh-CN": "国家网络身份认证公共服务 · 每次使用您的信息都有记录，可随时查询。",
        "en": "National network identity authentication public service · every use of your "
        "data is recorded, and you can look it up at any time.",
    },
    # -- the error page (error.html) ---------------------------------------------------------
    "error.title": {"zh-CN": "无法完成请求", "en": "The request cannot be completed"},
    "error.code_label": {"zh-CN": "错误代码", "en": "Error code"},
    "error.advice": {
        "zh-CN": "请返回您来自的网站重新开始。如果问题持续，请联系该网站。",
        "en": "Please go back to the site you came from and start again. If the problem "
        "persists, contact that site.",
    },
    "error.invalid_request": {
        "zh-CN": "请求缺少参数或参数无效。",
        "en": "The request is missing a parameter or has an invalid one.",
    },
    "error.invalid_client": {
        "zh-CN": "发起请求的应用未注册或未获批准。",
        "en": "The application that sent you here is not registered or not approved.",
    },
    "error.invalid_redirect_uri": {
        "zh-CN": "发起请求的应用给出的返回地址未注册，因此无法把您送回。",
        "en": "The return address the application gave is not registered, so you cannot be "
        "sent back to it.",
    },
    "error.not_found": {
        "zh-CN": "找不到该页面或请求已失效。",
        "en": "This page or request no longer exists.",
    },
    "error.expired": {
        "zh-CN": "请求已过期，请返回重新开始。",
        "en": "The request has expired. Please go back and start again.",
    },
    "error.bad_form": {
        "zh-CN": "表单已失效，请重新填写。",
        "en": "The form has expired. Please fill it in again.",
    },
    "error.server_error": {
        "zh-CN": "服务暂时无法完成请求，请稍后再试。",
        "en": "The service cannot complete the request right now. Please try again later.",
    },
    # -- password accounts (/accounts/password; account_*.html) ------------------------------
    "account.title": {"zh-CN": "设置登录密码", "en": "Set a login password"},
    "account.intro": {
        "zh-CN": "没有使用网络身份认证应用的用户，可以用证件号码、密码和发送到登记手机的验证码登录。"
        "设置或重设密码需要先接收验证码。",
        "en": "Without the network identity app you can log in with your document number, a "
        "password and a code sent to the phone in the registry. To set or reset the password, "
        "first receive a code.",
    },
    "account.document_number": {"zh-CN": "证件号码", "en": "Document number"},
    "account.document_number_hint": {
        "zh-CN": "居民身份证号码（18位）",
        "en": "Resident identity card number (18 characters)",
    },
    "account.send_code": {"zh-CN": "发送验证码", "en": "Send code"},
    "account.code_sent_no_hint": {
        "zh-CN": "如果该号码已登记手机，验证码已发送到登记的手机（{minutes} 分钟内有效）。",
        "en": "If this number is registered with a phone, a code was sent to that phone "
        "(valid for {minutes} minutes).",
    },
    "account.code": {"zh-CN": "验证码", "en": "Code"},
    "account.code_hint": {"zh-CN": "6 位数字", "en": "6 digits"},
    "account.password": {"zh-CN": "新密码", "en": "New password"},
    "account.password_hint": {
        "zh-CN": "至少 10 个字符，不能全是数字，不能是证件号码。",
        "en": "At least 10 characters, not only digits, not your document number.",
    },
    "account.password_again": {"zh-CN": "再次输入新密码", "en": "New password again"},
    "account.save": {"zh-CN": "保存密码", "en": "Save password"},
    "account.start_again": {"zh-CN": "重新开始", "en": "Start again"},
    "account.done_title": {"zh-CN": "密码已设置", "en": "Password set"},
    "account.done": {
        "zh-CN": "密码已保存。登录时请输入证件号码和密码，再输入发送到登记手机的验证码。",
        "en": "Your password is saved. To log in, enter your document number and password, "
        "then the code sent to the phone in the registry.",
    },
    "account.error.document_number": {
        "zh-CN": "请输入有效的证件号码。",
        "en": "Enter a valid document number.",
    },
    "account.error.code": {
        "zh-CN": "验证码错误或已过期。",
        "en": "The code is wrong or has expired.",
    },
    "account.error.code_spent": {
        "zh-CN": "验证码已失效，请重新开始。",
        "en": "The code is no longer valid. Please start again.",
    },
    "account.error.password_mismatch": {
        "zh-CN": "两次输入的密码不一致。",
        "en": "The two passwords differ.",
    },
    "account.error.password_weak": {
        "zh-CN": "密码不符合要求：至少 10 个字符，不能全是数字，不能是证件号码。",
        "en": "The password does not meet the rules: at least 10 characters, not only digits, "
        "not your document number.",
    },
    "account.error.form": {
        "zh-CN": "表单已失效，请重新填写。",
        "en": "The form has expired. Please fill it in again.",
    },
}


# The OpenID Connect pages' group lives beside its routes (netid.web.i18n_oidc).
MESSAGES.update(
    {key: {"zh-CN": texts["zh-CN"], "en": texts["en"]} for key, texts in OIDC_MESSAGES.items()}
)


def message(key: str, lang: Lang, **values: object) -> str:
    """The text of ``key`` in ``lang``, with ``values`` filled in; an unknown key raises
    KeyError (a typo in a template must fail its test, not show an empty line)."""
    text = MESSAGES[key][lang]
    return text.format(**values) if values else text
