"""API errors the simulated server answers with, in the real error body shape."""

from __future__ import annotations

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
STATUS_FOR_TYPE = {v: k for k, v in ERROR_TYPES.items()}
DEFAULT_MESSAGES = {
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit.",
    "overloaded_error": "Overloaded",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
}


class ApiError(Exception):
    """An error response: HTTP status, ``error.type`` and message; extra headers (retry-after-ms)."""

    def __init__(
        self, status: int, message: str, *, error_type: str | None = None, headers: dict | None = None
    ):
        super().__init__(message)
        self.status = status
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.message = message
        self.headers = dict(headers or {})

    def body(self, request_id: str | None) -> dict:
        return {
            "type": "error",
            "error": {"type": self.error_type, "message": self.message, "details": None},
            "request_id": request_id,
        }


def invalid(message: str) -> ApiError:
    return ApiError(400, message)
