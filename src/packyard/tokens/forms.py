from datetime import datetime, time, timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

from packyard.accounts.models import User
from packyard.tokens.projects import ProjectChoice, ProjectNameRefused, directory
from packyard.tokens.scope import TokenScope

EXPIRY_DAYS = (7, 30, 90, 365)


def _expiry_choices() -> list[tuple[str, str]]:
    max_days = (settings.PACKYARD_TOKEN_MAX_AGE or 0) // 86400
    choices = [] if max_days else [("", "Never")]
    choices += [(str(d), f"{d} days") for d in EXPIRY_DAYS if not max_days or d <= max_days]
    return [*choices, ("custom", "On a date")]


class TokenCreateForm(forms.Form):
    description = forms.CharField(
        label="Token name", max_length=100, help_text="What the token is for, e.g. 'CI for foo'."
    )
    projects = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked for a token that can upload to every project you can.",
    )
    new_project = forms.CharField(
        label="Or a new project it may create",
        max_length=200,
        required=False,
        help_text="A project name nobody has yet: the token may create exactly that project.",
    )
    existing_only = forms.BooleanField(
        label="Only upload to projects that exist (never create one)", required=False
    )
    version_pattern = forms.CharField(
        label="Versions", max_length=100, required=False, help_text="For example 2.* or >=1.4,<2"
    )
    source_cidrs = forms.CharField(
        label="Only from these addresses",
        max_length=1000,
        required=False,
        help_text="Address ranges in CIDR form, separated by commas, e.g. 203.0.113.0/24.",
    )
    single_use = forms.BooleanField(label="Single use (one request)", required=False)
    read_only = forms.BooleanField(
        label="Read-only: reads a private index, never uploads (for CI installs and mirrors)",
        required=False,
    )
    stage_only = forms.BooleanField(
        label="Stage only: its uploads wait for an Owner's approval (for CI)",
        required=False,
    )
    expiry = forms.ChoiceField(label="Expires", required=False)
    expires_on = forms.DateField(
        label="Expiry date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="With 'On a date'.",
    )

    def __init__(
        self, *args: object, user: User, projects: list[ProjectChoice], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.user = user
        self.project_names = {project.id: project.name for project in projects}
        self.fields["projects"].choices = [(p.id, p.name) for p in projects]  # type: ignore[attr-defined]
        # Nothing to tick: no empty box. The field stays, so a posted project is still checked.
        self.fields["projects"].widget = forms.MultipleHiddenInput()
        if projects:
            self.fields["projects"].widget = forms.CheckboxSelectMultiple()
        self.fields["expiry"].choices = _expiry_choices()  # type: ignore[attr-defined]
        default_days = (settings.PACKYARD_TOKEN_DEFAULT_AGE or 0) // 86400
        self.fields["expiry"].initial = str(default_days) if default_days else ""

    def clean_new_project(self) -> str:
        name = self.cleaned_data["new_project"].strip()
        if not name:
            return ""
        try:
            return directory().new_project_name(name=name, user=self.user)
        except ProjectNameRefused as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_source_cidrs(self) -> tuple[str, ...]:
        text = self.cleaned_data["source_cidrs"]
        return tuple(part.strip() for part in text.replace(" ", ",").split(",") if part.strip())

    def expires(self) -> datetime | None:
        choice = self.cleaned_data.get("expiry") or ""
        if choice == "custom":
            day = self.cleaned_data.get("expires_on")
            if day is None:
                raise forms.ValidationError("Choose the expiry date.")
            return timezone.make_aware(datetime.combine(day, time(23, 59)))
        return timezone.now() + timedelta(days=int(choice)) if choice else None

    def scope(self) -> TokenScope:
        data = self.cleaned_data
        return TokenScope(
            projects=tuple((self.project_names[pk], pk) for pk in data["projects"]),
            new_project=data["new_project"],
            existing_only=data["existing_only"],
            version_pattern=data["version_pattern"].strip(),
            source_cidrs=data["source_cidrs"],
            single_use=data["single_use"],
            read_only=data["read_only"],
            stage_only=data["stage_only"],
        )
