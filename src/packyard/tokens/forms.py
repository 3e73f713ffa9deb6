from datetime import datetime, timedelta

from django import forms
from django.utils import timezone

from packyard.packages.models import Project

EXPIRY_CHOICES = [
    ("", "Never"),
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
]


class TokenCreateForm(forms.Form):
    description = forms.CharField(
        label="Token name", max_length=100, help_text="What the token is for, e.g. 'CI for foo'."
    )
    projects = forms.ModelMultipleChoiceField(
        queryset=Project.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked for a token that can upload to every project you can.",
    )
    expiry_days = forms.ChoiceField(label="Expires", choices=EXPIRY_CHOICES, required=False)

    def __init__(self, *args: object, projects: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["projects"].queryset = projects  # type: ignore[attr-defined]

    def expires(self) -> datetime | None:
        days = self.cleaned_data.get("expiry_days")
        return timezone.now() + timedelta(days=int(days)) if days else None
