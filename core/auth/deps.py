"""FastAPI dependencies: the caller's Principal and per-route permission checks."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.auth.permissions import roles_for
from core.auth.principal import Principal
from core.errors import Forbidden, Unauthorized

bearer = HTTPBearer(auto_error=False, description="Access token from the `mes` Keycloak realm")


class TokenVerifier(Protocol):
    """Turns a bearer token into a Principal or raises Unauthorized."""

    async def verify(self, token: str) -> Principal:
        """Verify signature, issuer, audience and lifetime; map claims to a Principal."""
        ...


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The verified caller; 401 without a valid bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise Unauthorized("token verification is not configured")
    return await verifier.verify(credentials.credentials)


def require(permission: str) -> Any:
    """Dependency that lets through callers holding a role allowed for `permission`.

    Use as `dependencies=[require("items:write")]` or as a parameter annotation
    `principal: Annotated[Principal, require("items:write")]` to get the caller.
    """
    allowed = roles_for(permission)

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.roles & allowed:
            raise Forbidden(
                f"permission {permission!r} requires one of the roles {', '.join(sorted(allowed))}"
            )
        return principal

    check.permission = permission  # type: ignore[attr-defined]
    return Depends(check)


def declared_permission(dependency: Any) -> str | None:
    """The permission a dependency created by `require` checks, else None."""
    return getattr(dependency, "permission", None)
