"""The words of the OpenID Connect pages (login, password, consent, logout), zh-CN and en.

Merged into :data:`netid.web.i18n.MESSAGES`; the same test checks every key has both."""

from __future__ import annotations

OIDC_MESSAGES: dict[str, dict[str, str]] = {
    "oidc.login.title": {"zh-CN": "登录", "en": "Log in"},
    "oidc.login.heading": {
        "zh-CN": "{institution} 请求核验您的身份",
        "en": "{institution} asks to verify who you are",
    },
    "oidc.login.purpose": {"zh-CN": "用途：{purpose}", "en": "Purpose: {purpose}"},
    "oidc.login.scan": {
        "zh-CN": "请用网络身份认证 App（钱包）扫描二维码，并在手机上确认。",
        "en": "Scan the QR code with the network identity wallet and approve on your phone.",
    },
    "oidc.login.qr_alt": {"zh-CN": "登录二维码", "en": "Login QR code"},
    "oidc.login.check_code": {
        "zh-CN": "核对码：{code}（手机上显示的应与此相同）",
        "en": "Check code: {code} (your phone shows the same)",
    },
    "oidc.login.same_device": {
        "zh-CN": "在本设备上打开钱包",
        "en": "Open the wallet on this device",
    },
    "oidc.login.password": {
        "zh-CN": "没有钱包？用证件号码、密码和短信验证码登录",
        "en": "No wallet? Log in with document number, password and a text message code",
    },
    "oidc.login.waiting": {
        "zh-CN": "等待您在手机上确认……二维码 2 分钟内有效。",
        "en": "Waiting for your approval on the phone… the code is valid for 2 minutes.",
    },
    "oidc.login.expired": {
        "zh-CN": "登录请求已过期，请回到网站重新开始。",
        "en": "The login request has expired; go back to the site and start again.",
    },
    "oidc.login.denied": {"zh-CN": "登录已被拒绝。", "en": "The login was denied."},
    "oidc.password.title": {"zh-CN": "密码登录", "en": "Log in with a password"},
    "oidc.password.document_number": {"zh-CN": "证件号码", "en": "Document number"},
    "oidc.password.password": {"zh-CN": "密码", "en": "Password"},
    "oidc.password.submit": {"zh-CN": "下一步", "en": "Next"},
    "oidc.password.set_up": {
        "zh-CN": "还没有密码？设置密码",
        "en": "No password yet? Set one",
    },
    "oidc.password.code_sent": {
        "zh-CN": "验证码已发送至 {phone}。",
        "en": "A code was sent to {phone}.",
    },
    "oidc.password.code_sent_plain": {
        "zh-CN": "验证码已发送至您登记的手机。",
        "en": "A code was sent to your registered phone.",
    },
    "oidc.password.code": {"zh-CN": "短信验证码", "en": "Text message code"},
    "oidc.password.confirm": {"zh-CN": "登录", "en": "Log in"},
    "oidc.consent.title": {"zh-CN": "授权", "en": "Consent"},
    "oidc.consent.heading": {
        "zh-CN": "{institution} 请求获取以下信息",
        "en": "{institution} asks for the following",
    },
    "oidc.consent.purpose": {"zh-CN": "声明的用途：{purpose}", "en": "Stated purpose: {purpose}"},
    "oidc.consent.pseudonym": {
        "zh-CN": "一个仅供该机构使用的匿名标识（不含您的姓名或证件号码）",
        "en": "A pseudonym for this institution only (without your name or document number)",
    },
    "oidc.consent.sensitive": {
        "zh-CN": "以下为敏感个人信息（明文身份信息），需逐项单独同意：",
        "en": "Sensitive personal information (plaintext identity): tick each one to agree:",
    },
    "oidc.consent.missing": {
        "zh-CN": "请逐项勾选同意提供的敏感信息，或拒绝。",
        "en": "Tick each sensitive item you agree to share, or deny.",
    },
    "oidc.consent.remember": {
        "zh-CN": "记住我的同意（年龄信息，90 天，可随时撤回）",
        "en": "Remember my consent (age information, 90 days, revocable at any time)",
    },
    "oidc.consent.approve": {"zh-CN": "同意并继续", "en": "Agree and continue"},
    "oidc.consent.deny": {"zh-CN": "拒绝", "en": "Deny"},
    "oidc.claim.name": {"zh-CN": "姓名", "en": "Name"},
    "oidc.claim.document_type": {"zh-CN": "证件类型", "en": "Document type"},
    "oidc.claim.document_number": {"zh-CN": "证件号码", "en": "Document number"},
    "oidc.claim.age_over_14": {"zh-CN": "是否年满 14 周岁", "en": "Whether you are 14 or older"},
    "oidc.claim.age_over_16": {"zh-CN": "是否年满 16 周岁", "en": "Whether you are 16 or older"},
    "oidc.claim.age_over_18": {"zh-CN": "是否年满 18 周岁", "en": "Whether you are 18 or older"},
    "oidc.claim.age_over_60": {"zh-CN": "是否年满 60 周岁", "en": "Whether you are 60 or older"},
    "oidc.logout.title": {"zh-CN": "已退出", "en": "Logged out"},
    "oidc.logout.body": {
        "zh-CN": "您已退出网络身份认证。可以关闭此页面。",
        "en": "You are logged out of the network identity service. You may close this page.",
    },
}
