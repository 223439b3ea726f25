"""An OpenID Connect relying party over the real app (in process): an approved institution
with a website, its registered OIDC client, and the steps of a login as a browser and an RP
make them. The browser-and-Authlib version of this is tests/e2e."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi.testclient import TestClient

from netid.client.rp import ASSERTION_TYPE, ClientFile, client_assertion, private_jwk
from netid.crypto import jose_keys
from netid.crypto.pairwise import pairwise_pseudonym
from netid.keys.schemas import KeyPurpose
from tests.enrolment.support import World
from tests.verification.support import approved

if TYPE_CHECKING:
    from tests.verification.test_qr import Wallet

LOGIN_URI_RE = re.compile(r'data-login-uri="([^"]+)"')


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Login:
    """One login in progress: what the RP sent and what came back."""

    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    location: str = ""
    params: dict[str, str] = field(default_factory=dict)


class RelyingParty:
    """An approved institution at ``https://<host>`` with a registered OIDC client."""

    def __init__(
        self,
        world: World,
        *,
        host: str,
        industry: str = "internet_platform",
        purposes: tuple[str, ...] = ("real_name_registration", "minor_protection"),
        auth_method: str = "private_key_jwt",
        id_token_alg: str = "RS256",
        register: bool = True,
        quotas: dict[str, int] | None = None,
    ) -> None:
        self.world = world
        self.key = jose_keys.generate_private_key("ES256")
        self.view = approved(
            world.container,
            industry=industry,
            purposes=list(purposes),
            website=f"https://{host}",
            quotas=quotas,
            jwks=[jose_keys.public_jwk(self.key, "k1")],
        )
        assert self.view.client_id and self.view.code
        self.client_id: str = self.view.client_id
        self.host = host
        self.redirect_uri = f"https://{host}/callback"
        self.client_file = ClientFile(
            institution_code=self.view.code,
            client_id=self.view.client_id,
            token_endpoint=world.container.token_endpoint_url(),
            api_base=world.container.api_base_url(),
            private_jwk=private_jwk(self.key, "k1"),
        )
        self.auth_method = auth_method
        self.secret: str | None = None
        if register:
            answer = self.register(
                redirect_uris=[self.redirect_uri],
                post_logout_redirect_uris=[f"https://{host}/bye"],
                token_endpoint_auth_method=auth_method,
                id_token_signed_response_alg=id_token_alg,
            )
            assert answer.status_code == 200, answer.text
            self.secret = answer.json().get("client_secret")

    def assertion(self) -> str:
        return client_assertion(self.client_file, now=self.world.clock.now().timestamp())

    def api_token(self) -> dict[str, str]:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
        }
        answer = self.world.http.post("/oauth2/token", data=form)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def register(self, **body: Any) -> Any:
        return self.world.http.put("/v1/oidc/client", json=body, headers=self.api_token())

    def pseudonym_of(self, who: str) -> str:
        """What /v1/verifications gives this institution for ``who`` (the same HMAC)."""
        with self.world.container.transaction(write=False) as session:
            subject = self.world.container.registry(session).unsafe_open_subject(
                self.world.number(who)
            )
        assert subject is not None and self.view.sector is not None
        key = self.world.container.keyring().active(KeyPurpose.PAIRWISE).secret
        return pairwise_pseudonym(key, sector=self.view.sector, subject_id=subject.subject_id)

    # -- the browser's steps -----------------------------------------------------------------
    def authorize(self, browser: TestClient, *, scope: str = "openid", **extra: str) -> Any:
        login = Login(
            state=secrets.token_urlsafe(8),
            nonce=secrets.token_urlsafe(8),
            verifier=secrets.token_urlsafe(48),
            redirect_uri=self.redirect_uri,
        )
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "state": login.state,
            "nonce": login.nonce,
            "code_challenge": s256(login.verifier),
            "code_challenge_method": "S256",
            **extra,
        }
        params = {k: v for k, v in params.items() if v != ""}
        answer = browser.get("/oidc/authorize?" + urlencode(params), follow_redirects=False)
        login.location = answer.headers.get("location", "")
        return login, answer

    def token(self, code: str, login: Login, **overrides: str) -> Any:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": login.redirect_uri,
            "code_verifier": login.verifier,
        }
        auth: tuple[str, str] | None = None
        if self.auth_method == "private_key_jwt":
            form["client_assertion_type"] = ASSERTION_TYPE
            form["client_assertion"] = self.assertion()
        else:
            assert self.secret is not None
            auth = (self.client_id, self.secret)
        form.update(overrides)
        return self.world.http.post("/oauth2/token", data=form, auth=auth)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def handle_of(page_html: str) -> str:
    found = LOGIN_URI_RE.search(page_html)
    assert found, "the login page shows a login URI"
    uri = found.group(1).replace("&amp;", "&")
    return query_of(uri)["r"]


def browser_for(world: World) -> TestClient:
    """A second browser (its own cookie jar) on the same app."""
    return TestClient(world.http.app, base_url=str(world.http.base_url))


def wallet_login(
    world: World, rp: RelyingParty, wallet: Wallet, browser: TestClient, **kw: str
) -> tuple[Login, str]:
    """Authorize, approve in the wallet; returns the login and the consent URL."""
    login, answer = rp.authorize(browser, **kw)
    assert answer.status_code == 303, answer.text
    assert login.location.startswith("/oidc/login/"), login.location
    page = browser.get(login.location)
    assert page.status_code == 200, page.text
    handle = handle_of(page.text)
    decided = world.http.post(
        f"/v1/wallet/logins/{handle}", json={"decision": "approve"}, headers=wallet.bearer()
    )
    assert decided.status_code == 200, decided.text
    status = browser.get(login.location + "/status")
    assert status.status_code == 200 and status.json()["status"] == "authenticated"
    return login, str(status.json()["next"])


def finish(browser: TestClient, consent_url: str, **form: Any) -> Any:
    """The consent step: the page's answer if it redirects at once, else the approval."""
    page = browser.get(consent_url, follow_redirects=False)
    if page.status_code == 303:
        return page
    assert page.status_code == 200, page.text
    return browser.post(consent_url, data={"decision": "approve", **form}, follow_redirects=False)


def code_for(
    world: World,
    rp: RelyingParty,
    wallet: Wallet,
    browser: TestClient | None = None,
    *,
    consent: dict[str, Any] | None = None,
    **kw: str,
) -> tuple[Login, str]:
    """A whole wallet login up to the code at the redirect URI: (login, code)."""
    browser = browser if browser is not None else browser_for(world)
    login, consent_url = wallet_login(world, rp, wallet, browser, **kw)
    done = finish(browser, consent_url, **(consent or {}))
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(login.redirect_uri), done.headers["location"]
    back = query_of(done.headers["location"])
    assert "code" in back, back
    return login, back["code"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def payload_of_jwt(token: str) -> dict[str, Any]:
    """The claims of a compact JWS, unverified (for tests that verify elsewhere)."""
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded
