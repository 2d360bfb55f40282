"""NGSI-LD error kinds as members of cityhub's one error family, each knowing its ETSI type URI."""

from __future__ import annotations

from cityhub.errors import CityhubError, Conflict, Forbidden, Invalid, LimitExceeded, NotFound, Unauthenticated

ETSI_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


class InvalidRequest(Invalid):
    status_code = 400
    ngsi_type = "InvalidRequest"


class BadRequestData(Invalid):
    status_code = 400
    ngsi_type = "BadRequestData"


class TooManyResults(Invalid):
    status_code = 400
    ngsi_type = "TooManyResults"


class TooComplexQuery(Invalid):
    status_code = 400
    ngsi_type = "TooComplexQuery"


class OperationNotSupported(Invalid):
    status_code = 422
    ngsi_type = "OperationNotSupported"


class AlreadyExists(Conflict):
    ngsi_type = "AlreadyExists"


class ResourceNotFound(NotFound):
    ngsi_type = "ResourceNotFound"


class LdContextNotAvailable(CityhubError):
    status_code = 503
    code = "ld_context_not_available"
    ngsi_type = "LdContextNotAvailable"


class NotAcceptable(CityhubError):
    """406: the Accept header admits no representation this door produces (ETSI GS CIM 009 6.3.4)."""

    status_code = 406
    code = "not_acceptable"
    ngsi_type = "NotAcceptable"


class UnsupportedMediaType(CityhubError):
    """415: a request body in a media type other than JSON / JSON-LD (ETSI GS CIM 009 6.3.4)."""

    status_code = 415
    code = "unsupported_media_type"
    ngsi_type = "UnsupportedMediaType"


class BatchTooLarge(LimitExceeded):
    ngsi_type = "BadRequestData"


def ngsi_type_of(exc: Exception) -> str:
    """The ETSI ProblemDetails type name for any cityhub error."""
    name = getattr(exc, "ngsi_type", None)
    if name:
        return name
    if isinstance(exc, NotFound):
        return "ResourceNotFound"
    if isinstance(exc, Conflict):
        return "AlreadyExists"
    if isinstance(exc, (Forbidden, Unauthenticated)):
        return "Unauthorized" if isinstance(exc, Unauthenticated) else "Forbidden"
    if isinstance(exc, LimitExceeded):
        return "BadRequestData"
    if isinstance(exc, Invalid):
        return "BadRequestData"
    return "InternalError"


def problem_body(exc: Exception) -> dict:
    kind = ngsi_type_of(exc)
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "message", None) or "internal error"
    body = {"type": ETSI_ERRORS + kind, "title": kind, "status": status, "detail": detail}
    details = getattr(exc, "details", None)
    if details:
        body["errors"] = details
    return body
