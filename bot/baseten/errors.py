"""The errors the Baseten client raises; `str()` of each is safe to show a user.

Error tree::

    BasetenError
    ├── NotFound          404: unknown model, deployment or environment
    ├── AuthError         401 or 403: bad key, or a key that may not read this
    ├── RateLimited       429 still answered after the retries (carries retry_after)
    ├── Unavailable       5xx, timeout or connection failure after the retries
    └── BadResponse       a 2xx whose body is not the JSON the spec describes
"""

from __future__ import annotations


class BasetenError(Exception):
    """Base of every error the client raises; `str()` is safe to show a user."""


class NotFound(BasetenError):
    pass


class AuthError(BasetenError):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimited(BasetenError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Baseten is rate limiting this key; retry in {retry_after:g}s")
        self.retry_after = retry_after


class Unavailable(BasetenError):
    pass


class BadResponse(BasetenError):
    pass
