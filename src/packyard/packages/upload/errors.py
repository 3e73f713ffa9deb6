class UploadRefused(Exception):
    """An upload refused with a message for the person running the client; `retry_after` (seconds)
    for a refusal that ends by itself (429), sent as Retry-After."""

    def __init__(self, message: str, status: int = 400, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
