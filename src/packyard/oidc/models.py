from django.db import models


class UsedJwt(models.Model):
    """An identity token already exchanged: its `jti` cannot be exchanged again. Kept until the
    token expires, when its signature no longer passes and the row is no longer needed."""

    issuer = models.CharField(max_length=300)
    jti = models.CharField(max_length=200)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "jti"], name="oidc_jti_once")]

    def __str__(self) -> str:
        return f"{self.jti} of {self.issuer}"
