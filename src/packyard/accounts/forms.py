from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.core.validators import MaxLengthValidator, RegexValidator

from packyard.accounts.ratelimit import RateLimited
from packyard.accounts.services import (
    MAX_PASSWORD_LENGTH,
    USERNAME_PATTERN,
    USERNAME_RULE,
    login_failures_per_known_device,
)


def password_field(label: str, autocomplete: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=MAX_PASSWORD_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


class RegisterForm(forms.Form):
    username = forms.CharField(
        max_length=50,
        validators=[RegexValidator(USERNAME_PATTERN, f"A username is {USERNAME_RULE}.")],
        help_text="ASCII letters, digits and . _ - only; 50 characters at most.",
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = password_field("Password", "new-password")
    password_confirm = password_field("Confirm password", "new-password")

    def __init__(self, *args: Any, email: str | None = None, **kwargs: Any) -> None:
        """With `email`, for an invitation: the address is the invited one, not a field."""
        super().__init__(*args, **kwargs)
        self.fixed_email = email
        if email is not None:
            del self.fields["email"]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if self.fixed_email is not None:
            data["email"] = self.fixed_email
        password = data.get("password")
        if password and password != data.get("password_confirm"):
            self.add_error("password_confirm", "The two passwords differ.")
        elif isinstance(password, str):
            from packyard.accounts.models import User

            candidate = User(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class LoginForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username webauthn", "autofocus": True}),
    )
    password = password_field("Password", "current-password")


class BoundedPasswordsMixin(forms.Form):
    """Every password field bounded before it reaches the hasher or the validators."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.validators.append(MaxLengthValidator(MAX_PASSWORD_LENGTH))


class BoundedPasswordChangeForm(BoundedPasswordsMixin, PasswordChangeForm):
    def clean_old_password(self) -> str:
        """The current password is a credential check: limited like a login from a known
        device (the session is the device), counted before the check."""
        subject = f"{self.user.pk}:password-change"
        limit = login_failures_per_known_device()
        try:
            limit.hit(subject)
        except RateLimited as exc:
            raise forms.ValidationError(exc.refusal("Too many wrong passwords").message) from None
        password = str(super().clean_old_password())  # raises for a wrong one, which stays counted
        limit.give_back(subject)
        return password


class BoundedSetPasswordForm(BoundedPasswordsMixin, SetPasswordForm):
    pass


class ReauthForm(forms.Form):
    """The password again (limited like a login), and a code when the account has an app."""

    password = password_field("Password", "current-password")
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(
        self, *args: Any, user: Any, request: Any, codes: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request
        if not codes:  # the account, or the action, takes a security key only
            del self.fields["code"]

    def clean_password(self) -> str:
        from packyard.accounts.services import password_check

        password = str(self.cleaned_data["password"])
        try:
            user = password_check(
                request=self.request, username=self.user.get_username(), password=password
            )
        except RateLimited as exc:
            raise forms.ValidationError(exc.refusal("Too many wrong passwords").message) from None
        if user is None or user.pk != self.user.pk:
            raise forms.ValidationError("That password is not right.")
        return password


class InviteUserForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Their email address")
