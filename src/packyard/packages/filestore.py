"""What the file store (a directory or an S3 bucket, PACKYARD_STORAGE_URL) raises when it
fails: a disk's OSError, or botocore's errors for a bucket that is unreachable or refuses."""

from botocore.exceptions import BotoCoreError, ClientError

STORE_ERRORS: tuple[type[Exception], ...] = (OSError, BotoCoreError, ClientError)
