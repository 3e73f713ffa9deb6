"""The upload pipeline: authenticate, receive, validate, check the archive, store, record."""
