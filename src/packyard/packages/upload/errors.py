class UploadRefused(Exception):
    """An upload refused with a message for the person running the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
