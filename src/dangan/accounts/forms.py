"""Forms of the account pages. They only shape input; the services decide (and check again)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dangan.accounts.roles import DEFAULT_TOKEN_SCOPES, ROLE_LABELS, SEPARATED_ADMINS, TOKEN_SCOPES, Role
from dangan.accounts.tokens import MAX_EXPIRY_DAYS
from dangan.catalog.models import Fonds

ALL_FONDS = ""

SCOPE_LABELS = {
    "cases:submit": _("send cases"),
    "cases:check": _("pre-check packages"),
    "submissions:read": _("read the outcome of its submissions"),
}


class CreateAccountForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    email = forms.EmailField(label=_("E-mail"), required=False)

    def clean_username(self) -> str:
        name = str(self.cleaned_data["username"]).strip()
        if not name:
            raise forms.ValidationError(_("A user name is required."))
        return name


def _fonds_choices() -> list[tuple[str, str]]:
    return [(ALL_FONDS, str(_("All fonds")))] + [
        (f.code, f"{f.code} {f.name}") for f in Fonds.objects.order_by("code")
    ]


class GrantForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=[(r.value, ROLE_LABELS[r]) for r in Role])
    fonds = forms.ChoiceField(
        label=_("Fonds"),
        required=False,
        help_text=_("The three administrators are always granted for all fonds."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fonds"].choices = _fonds_choices()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        code = data.get("fonds") or ALL_FONDS
        data["fonds_obj"] = Fonds.objects.filter(code=code).first() if code else None
        role = data.get("role")
        if role and Role(role) in SEPARATED_ADMINS and data["fonds_obj"] is not None:
            self.add_error("fonds", _("The three administrators are granted for all fonds, never per fonds."))
        return data


class IssueTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        required=False,
        help_text=_("Where the token is used, e.g. the server it is configured on."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=[(s, s) for s in TOKEN_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(DEFAULT_TOKEN_SCOPES),
    )
    expires_in_days = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        required=False,
        help_text=_("Empty: no expiry."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [  # type: ignore[attr-defined]
            (s, f"{s} — {SCOPE_LABELS.get(s, s)}") for s in TOKEN_SCOPES
        ]


class SourceSystemForm(IssueTokenForm):
    """A new source system and its first token."""

    code = forms.CharField(label=_("System code"), max_length=64)
    system_name = forms.CharField(label=_("System name"), max_length=200)
    fonds = forms.MultipleChoiceField(
        label=_("Fonds it sends to"), widget=forms.CheckboxSelectMultiple, required=True
    )

    field_order = ["code", "system_name", "fonds", "name", "scopes", "expires_in_days"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fonds"].choices = [  # type: ignore[attr-defined]
            (f.code, f"{f.code} {f.name}") for f in Fonds.objects.order_by("code")
        ]
