"""Domain errors and their one mapping to HTTP; every error body has the same shape.

{"error": {"code": "not_found", "message": "...", "details": [{"field": "...", "reason": "..."}]}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    """One problem with the request: which field and why.

    `field` is where the value sits in the request, dotted as FastAPI names its validation
    errors: `body.quantity`, `body.lines.0.quantity`, `query.sort`, `path.item_id`, or `body`
    for the whole body. Errors of the database name the constraint instead.
    """

    field: str | None = Field(default=None, examples=["body.quantity"])
    reason: str = Field(examples=["Input should be greater than 0"])


class ErrorInfo(BaseModel):
    """Machine-readable code, human message, optional per-field details."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["item 42 not found"])
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """Body of every 4xx/5xx response."""

    error: ErrorInfo


class DomainError(Exception):
    """Base of the errors services raise; the handler turns them into HTTP responses."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(DomainError):
    """The addressed entity does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state (duplicate, in use, cycle, ...)."""

    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    """A state machine refused the transition."""

    code = "invalid_transition"


class ValidationFailed(DomainError):
    """Input is well-formed but not acceptable; names the field."""

    status_code = 422
    code = "validation_error"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", details=[ErrorDetail(field=field, reason=reason)])


class Unauthorized(DomainError):
    """No valid credentials."""

    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    """Authenticated, but the role does not allow this."""

    status_code = 403
    code = "forbidden"


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in [
        (401, "Missing or invalid bearer token"),
        (403, "The caller's roles do not allow this"),
        (404, "Not found"),
        (409, "Conflict with the current state"),
        (422, "Invalid input; details name the fields"),
    ]
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error statuses."""
    return {s: ERROR_RESPONSES[s] for s in statuses}


def error_response(
    status: int, code: str, message: str, details: list[ErrorDetail] | None = None
) -> JSONResponse:
    """An ErrorBody response."""
    body = ErrorBody(error=ErrorInfo(code=code, message=message, details=details or []))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(exc.status_code, exc.code, exc.message, exc.details)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [ErrorDetail(field=_field(e["loc"]), reason=e["msg"]) for e in exc.errors()]
    message = "; ".join(f"{d.field}: {d.reason}" for d in details) or "invalid request"
    return error_response(422, "validation_error", message, details)


BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's 400, e.g. for non-UTF-8


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == BODY_PARSE_ERROR:
        # an unreadable body is bad input like invalid JSON: 422 naming the body
        reason = "the body could not be parsed; it must be UTF-8 encoded JSON"
        return error_response(
            422, "validation_error", f"body: {reason}", [ErrorDetail(field="body", reason=reason)]
        )
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
        exc.status_code, "http_error"
    )
    return error_response(exc.status_code, code, str(exc.detail))


async def _integrity(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    detail = (
        getattr(diag, "message_detail", None)
        or getattr(diag, "message_primary", None)
        or str(exc.orig)
    )
    if sqlstate.startswith("23") and sqlstate not in {"23502", "23514"}:
        return error_response(
            409,
            "conflict",
            f"conflicts with existing data ({constraint or 'constraint'}): {detail}",
            [ErrorDetail(field=constraint, reason=str(detail))],
        )
    # data exceptions (also those the driver raises itself, e.g. a NUL byte in text),
    # not-null and check violations
    if sqlstate.startswith(("22", "23")) or isinstance(exc, DataError):
        return error_response(
            422,
            "validation_error",
            f"value rejected by the database: {detail}",
            [ErrorDetail(field=constraint, reason=str(detail))],
        )
    log.exception("database error", exc_info=exc)
    return error_response(
        503, "database_unavailable", "the database could not complete the request"
    )


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    """Register the one mapping from errors to HTTP responses."""
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DBAPIError, _integrity)
    app.add_exception_handler(Exception, _unexpected)
