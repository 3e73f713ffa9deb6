from packyard.http import Refused


class UploadRefused(Refused):
    """An upload refused: the message goes in the reason phrase and the body, for every client."""
