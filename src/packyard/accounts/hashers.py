from django.contrib.auth.hashers import Argon2PasswordHasher


class PackyardArgon2PasswordHasher(Argon2PasswordHasher):
    """argon2id at OWASP's recommended floor: 19 MiB, two passes, one lane."""

    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
