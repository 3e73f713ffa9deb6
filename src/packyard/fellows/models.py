"""The recognition programme: quarterly rounds, nominations, the work group's votes, and the
public roster (docs/fellows.md)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Round(models.Model):
    """A quarter's review: nominations come in until `closes`, then the work group reviews,
    decides and announces."""

    OPEN = "open"
    REVIEW = "review"
    DECIDED = "decided"
    ANNOUNCED = "announced"
    STATES = (OPEN, REVIEW, DECIDED, ANNOUNCED)

    year = models.PositiveIntegerField()
    quarter = models.PositiveSmallIntegerField()  # 1 to 4
    closes = models.DateTimeField()  # the cut-off for nominations
    state = models.CharField(max_length=16, default=OPEN)
    decided = models.DateTimeField(null=True, blank=True)
    announced = models.DateTimeField(null=True, blank=True)
    # The work group's words to nominators whose nominee was not accepted (a default if empty).
    not_accepted_text = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["year", "quarter"], name="fellows_round_unique")
        ]
        ordering = ["-year", "-quarter"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"{self.year} Q{self.quarter}"

    @property
    def slug(self) -> str:
        return f"{self.year}-q{self.quarter}"

    @property
    def index(self) -> int:
        """Quarters since year 0: rounds four apart are a year apart."""
        return self.year * 4 + self.quarter - 1


class Nomination(models.Model):
    OPEN = "open"  # eligible: in this round's review, and the next ones'
    WITHDRAWN = "withdrawn"
    ACCEPTED = "accepted"
    EXPIRED = "expired"  # four quarters without being accepted

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    nominator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="nominations_made"
    )
    nominee_name = models.CharField(max_length=200)
    nominee_email = models.EmailField(max_length=254)  # private: the work group's and invitations'
    nominee_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    links = models.JSONField(default=list, blank=True)  # public http(s) addresses
    statement = models.TextField()  # Markdown, as written
    statement_html = models.TextField()  # rendered and sanitized as project READMEs are
    first_round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+")
    decided_round = models.ForeignKey(
        Round, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, default=OPEN)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created"]

    def __str__(self) -> str:
        return f"{self.nominee_name} ({self.status})"

    @property
    def nominee_key(self) -> str:
        """Nominations of one person are reviewed together: by email address."""
        return self.nominee_email.strip().lower()


class Member(models.Model):
    """A member of the work group, chosen by staff."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fellows_member"
    )
    added = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.user)


class Vote(models.Model):
    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"
    CHOICES = (YES, NO, ABSTAIN)

    nomination = models.ForeignKey(Nomination, on_delete=models.CASCADE, related_name="votes")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=8)
    comment = models.TextField(blank=True)  # private to the work group
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["nomination", "round", "voter"], name="fellows_vote_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.voter_id} {self.choice} on {self.nomination_id}"


class Recusal(models.Model):
    """A member's declared conflict of interest: no vote, and no sight of the votes."""

    nomination = models.ForeignKey(Nomination, on_delete=models.CASCADE, related_name="recusals")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["nomination", "member"], name="fellows_recusal_unique")
        ]

    def __str__(self) -> str:
        return f"{self.member_id} recused from {self.nomination_id}"


class ReferenceRequest(models.Model):
    """The work group asks the nominator for references; the nominator's reply is attached."""

    nomination = models.ForeignKey(
        Nomination, on_delete=models.CASCADE, related_name="reference_requests"
    )
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    question = models.TextField()
    asked = models.DateTimeField(default=timezone.now)
    reply = models.TextField(blank=True)
    replied = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["asked"]

    def __str__(self) -> str:
        return f"reference request on {self.nomination_id}"


class Fellow(models.Model):
    """A person on the roster, once they accepted the invitation to be listed."""

    INVITED = "invited"
    LISTED = "listed"
    DECLINED = "declined"
    ACTIVE = "active"
    EMERITUS = "emeritus"
    IN_MEMORIAM = "in memoriam"
    STATUSES = (ACTIVE, EMERITUS, IN_MEMORIAM)

    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)  # for the invitation; never shown
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="fellows")
    nomination = models.OneToOneField(
        Nomination, null=True, blank=True, on_delete=models.SET_NULL, related_name="fellow"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    links = models.JSONField(default=list, blank=True)
    listing = models.CharField(max_length=16, default=INVITED)
    status = models.CharField(max_length=16, default=ACTIVE)
    invited = models.DateTimeField(null=True, blank=True)
    answered = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.round})"


class FellowsEvent(models.Model):
    """Every step, for the work group: who did what and when. Votes' choices stay here only."""

    time = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tag = models.CharField(max_length=64)
    nomination = models.ForeignKey(
        Nomination, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    round = models.ForeignKey(
        Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-time"]

    def __str__(self) -> str:
        return f"{self.tag} {self.time:%Y-%m-%d %H:%M}"
