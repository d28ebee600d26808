"""Bearer token verification against the realm's published keys (JWKS).

Access tokens are JWTs signed by the realm (RS256 by default). The verifier checks the signature
with a key from the realm's JWKS (fetched with python-keycloak, cached for MES_JWKS_CACHE_SECONDS,
refetched at once when a token names an unknown `kid`, at most once per REFRESH_COOLDOWN so that
made-up key ids cannot hammer Keycloak), then the token type, issuer, audience, expiry, issued-at
and not-before (with MES_JWT_LEEWAY_SECONDS of clock skew), and maps the claims to a Principal.
Only asymmetric algorithms are accepted, and only the algorithm of the key the token names.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError

from core.auth.principal import Principal, Role
from core.config import ApiSettings
from core.errors import DomainError, Unauthorized

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Signature algorithms a realm key may use; symmetric (HS*) and `none` are never accepted."""

REFRESH_COOLDOWN = 10.0
"""Minimum seconds between two refetches caused by unknown key ids."""

RETRY_AFTER_FAILURE = 5.0
"""Seconds before a failed key fetch is tried again (stale keys are used meanwhile)."""

SERVICE_ACCOUNT_PREFIX = "service-account-"


class AuthUnavailable(DomainError):
    """The realm's keys cannot be fetched, so no token can be checked (503, not 401)."""

    status_code = 503
    code = "auth_unavailable"


@dataclass(frozen=True)
class KeySet:
    """Signing keys by key id, and when they were fetched (monotonic clock)."""

    keys: Mapping[str, jwt.PyJWK]
    fetched_at: float


def parse_jwks(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """Signing keys of a JWKS document; encryption keys and unknown algorithms are left out."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", []):
        kid, alg, use = entry.get("kid"), entry.get("alg"), entry.get("use", "sig")
        if not kid or use != "sig" or alg not in ALLOWED_ALGORITHMS:
            continue
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm=alg)
        except jwt.PyJWKError as err:
            log.warning("ignoring unusable realm key", extra={"kid": kid, "reason": str(err)})
    return keys


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Map verified claims to a Principal: realm roles that are MES roles, identity, expiry."""
    realm_access = claims.get("realm_access") or {}
    granted = (realm_access.get("roles") or []) if isinstance(realm_access, dict) else []
    known = {r.value for r in Role}
    roles = frozenset(Role(r) for r in granted if isinstance(r, str) and r in known)
    username = str(claims.get("preferred_username") or claims.get("sub") or "")
    client_id = claims.get("client_id")
    if client_id is None and username.startswith(SERVICE_ACCOUNT_PREFIX):
        client_id = claims.get("azp")
    return Principal(
        subject=str(claims.get("sub") or username),
        username=username,
        name=str(claims.get("name") or ""),
        roles=roles,
        client_id=str(client_id) if client_id else None,
        expires_at=float(claims["exp"]),
    )


class JwksVerifier:
    """Verifies access tokens of one realm; install as `app.state.token_verifier`."""

    def __init__(
        self,
        *,
        server_url: str,
        realm: str,
        issuer: str,
        audience: str,
        leeway: float,
        cache_seconds: float,
        refresh_cooldown: float = REFRESH_COOLDOWN,
        fetch_timeout: int = 5,
    ) -> None:
        self.server_url = server_url.rstrip("/") + "/"
        self.realm = realm
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.cache_seconds = cache_seconds
        self.refresh_cooldown = refresh_cooldown
        self.fetch_timeout = fetch_timeout
        self.jwks_fetches = 0
        """How many times the key set was fetched (observable for tests and metrics)."""
        self._keys: KeySet | None = None
        self._last_forced = float("-inf")
        self._retry_at = float("-inf")
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> JwksVerifier:
        """The verifier the API uses: issuer MES_KEYCLOAK_URL/realms/MES_KEYCLOAK_REALM."""
        return cls(
            server_url=settings.keycloak_url,
            realm=settings.keycloak_realm,
            issuer=settings.issuer,
            audience=settings.keycloak_api_audience,
            leeway=settings.jwt_leeway_seconds,
            cache_seconds=settings.jwks_cache_seconds,
        )

    async def verify(self, token: str) -> Principal:
        """The caller a valid access token names; Unauthorized (401) for any invalid token."""
        return principal_from_claims(await self.claims(token))

    async def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of an access token."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as err:
            raise Unauthorized(f"malformed token: {err}") from None
        kid, alg = header.get("kid"), header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise Unauthorized(f"token algorithm {alg!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token names no signing key (kid)")
        key = await self._key(kid)
        if key is None:
            raise Unauthorized("token is signed with a key the realm does not publish")
        if key.algorithm_name != alg:
            raise Unauthorized(f"token algorithm {alg!r} does not match its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized(f"token audience is not {self.audience}") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized(f"token was not issued by {self.issuer}") from None
        except jwt.PyJWTError as err:
            raise Unauthorized(f"invalid token: {err}") from None
        if claims.get("typ", "Bearer") != "Bearer":
            raise Unauthorized(f"a {claims.get('typ')} token is not an access token")
        return claims

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        """The key `kid`, fetching or refetching the key set when needed."""
        now = time.monotonic()
        keys = self._keys
        if keys is None or now - keys.fetched_at >= self.cache_seconds:
            keys = await self._refresh(forced=False)
        if kid in keys.keys:
            return keys.keys[kid]
        if now - self._last_forced < self.refresh_cooldown:
            return None
        keys = await self._refresh(forced=True)
        return keys.keys.get(kid)

    async def _refresh(self, *, forced: bool) -> KeySet:
        """Fetch the key set once, however many requests wait for it."""
        seen = self._keys
        async with self._lock:
            if self._keys is not seen and self._keys is not None:
                return self._keys  # another request refreshed while we waited
            now = time.monotonic()
            if forced:
                self._last_forced = now
            if now < self._retry_at:  # the last fetch failed moments ago: do not hammer Keycloak
                if self._keys is None:
                    raise AuthUnavailable(f"the signing keys of realm {self.realm} are unavailable")
                return self._keys
            try:
                document = await self._fetch()
            except AuthUnavailable:
                self._retry_at = now + RETRY_AFTER_FAILURE
                if self._keys is None:
                    raise
                log.warning("realm keys could not be refreshed; using the previous ones")
                return self._keys
            self._keys = KeySet(keys=parse_jwks(document), fetched_at=now)
            return self._keys

    async def _fetch(self) -> dict[str, Any]:
        openid = KeycloakOpenID(
            server_url=self.server_url,
            realm_name=self.realm,
            client_id=self.audience,
            timeout=self.fetch_timeout,
        )
        self.jwks_fetches += 1
        try:
            return await openid.a_certs()
        except (KeycloakError, OSError, ValueError, TypeError) as err:
            log.error("cannot fetch realm keys", extra={"realm": self.realm, "error": str(err)})
            raise AuthUnavailable(
                f"cannot fetch the signing keys of realm {self.realm} from {self.server_url}"
            ) from err
        finally:
            await openid.connection.aclose()
