import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from packyard.http import Refused, content_length, plain_error, refusal_response
from packyard.packages.upload import auth, pipeline
from packyard.packages.upload.errors import UploadRefused
from packyard.tokens.check import token_touch

logger = logging.getLogger(__name__)

# Beyond the file itself, a body carries the form's fields (the README among them) and the
# multipart framing.
FRAMING_ALLOWANCE = 1024 * 1024
# After a refusal the rest of the body is read and dropped, up to this much, so that the client
# gets to read our answer instead of a connection reset.
MAX_DRAIN = 256 * 1024 * 1024


def _drain(request: HttpRequest) -> None:
    remaining = MAX_DRAIN
    try:
        while remaining > 0 and (chunk := request.read(min(remaining, 1024 * 1024))):
            remaining -= len(chunk)
    except OSError:
        pass


BROWSER_REFUSAL = (
    "Uploads come from publishing tools (twine, uv, poetry, hatch, pdm, flit), not from web "
    "browsers: this request carries a browser's markers and was refused."
)


def _refuse_browsers(request: HttpRequest) -> None:
    """A web page can make a browser post a form here; publishing tools send none of the headers
    that browsers add to such a request, so any of them is reason enough to refuse."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if (
        request.headers.get("Sec-Fetch-Mode") == "navigate"
        or (fetch_site is not None and fetch_site not in ("none", "same-origin"))
        or (origin is not None and origin != settings.BASE_URL_ORIGIN)
    ):
        raise UploadRefused(BROWSER_REFUSAL, 403)


@csrf_exempt  # a machine endpoint: authenticated by token in a header, never by a cookie
def upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = plain_error(405, "Use POST with a multipart form to upload.")
        response["Allow"] = "POST"
        return response
    try:
        _refuse_browsers(request)
        uploader = auth.authenticate(request)
        length = content_length(request)
        fields_allowance = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + FRAMING_ALLOWANCE
        if length > settings.PACKYARD_MAX_FILE_SIZE + fields_allowance:
            raise UploadRefused(
                "File too large. Limit for this index is "
                f"{settings.PACKYARD_MAX_FILE_SIZE / 1024 / 1024:g} MiB.",
                413,
            )
        answer = pipeline.process(request, uploader)
    except Refused as refusal:
        if refusal.status != 408:  # a stalled body would only stall the drain as well
            _drain(request)
        # Never a WWW-Authenticate challenge, even for 401: a browser answers one with the
        # credentials it has cached for this site, which would let any web page upload with them.
        return refusal_response(refusal)
    if uploader.identity is not None:
        token_touch(token=uploader.identity.token, request=request)
    return HttpResponse(answer, content_type="text/plain")
