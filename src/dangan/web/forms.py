"""Forms of the web UI. They only validate input; the state changes happen in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from dangan.catalog.models import Fonds, ServiceItem
from dangan.core.codes import RETENTION_CODES, RETENTION_LABELS_EN


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for return"),
        max_length=2000,
        strip=True,
        error_messages={"required": _("A reason is required to return a case.")},
    )


def retention_choices(zh: bool) -> list[tuple[str, str]]:
    return [
        (code, f"{code} {label if zh else RETENTION_LABELS_EN.get(code, label)}")
        for code, label in RETENTION_CODES.items()
    ]


class RecordFilterForm(forms.Form):
    """Filters of the formal library (正式库). Every field is optional; invalid values are ignored."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    fonds = forms.ModelChoiceField(
        label=_("Fonds"),
        queryset=Fonds.objects.all(),
        required=False,
        to_field_name="code",
        empty_label=_("All"),
    )
    year = forms.IntegerField(
        label=_("Year"), required=False, min_value=1, max_value=9999, widget=forms.Select
    )
    service_item = forms.ModelChoiceField(
        label=_("Service item"),
        queryset=ServiceItem.objects.select_related("fonds"),
        required=False,
        empty_label=_("All"),
    )
    retention = forms.ChoiceField(label=_("Retention"), required=False)
    sort = forms.ChoiceField(
        required=False,
        choices=[("", ""), ("code", "code"), ("-code", "-code")],
        widget=forms.HiddenInput,
    )

    def __init__(self, *args: object, years: list[int], zh: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        all_label = str(_("All"))
        self.fields["year"].widget.choices = [("", all_label), *((str(y), str(y)) for y in years)]
        self.fields["retention"].choices = [("", all_label), *retention_choices(zh)]  # type: ignore[attr-defined]
        self.fields["q"].widget.attrs.update(
            {"placeholder": _("Archival code, title or file number"), "type": "search"}
        )
