"""The filter form of the auditor's pages (GET). It only validates; ``services.AuditFilters`` filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dangan.audit import labels
from dangan.audit.services import AuditFilters


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class AuditFilterForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    role = forms.ChoiceField(label=_("Role"), required=False)
    kind = forms.CharField(label=_("Event kind"), required=False, max_length=64)
    outcome = forms.ChoiceField(label=_("Outcome"), required=False)
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=64)
    object_id = forms.CharField(label=_("Object ID"), required=False, max_length=128)
    source_ip = forms.CharField(label=_("Source IP"), required=False, max_length=64)
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    seq_from = forms.IntegerField(label=_("Seq from"), required=False, min_value=1)
    seq_to = forms.IntegerField(label=_("Seq to"), required=False, min_value=1)

    def __init__(self, *args: Any, lang: str = "zh-hans", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        all_label = str(_("All"))
        role: Any = self.fields["role"]
        role.choices = [("", all_label), *labels.role_choices(lang)]
        outcome: Any = self.fields["outcome"]
        outcome.choices = [
            ("", all_label),
            *((k, labels.outcome_label(k, lang)) for k in labels.OUTCOME_LABELS),
        ]
        self.fields["kind"].widget.attrs.update({"list": "audit-kinds", "placeholder": "record."})
        self.fields["source_ip"].widget.attrs.update({"placeholder": "10.1."})
        self.fields["q"].widget.attrs.update(
            {"type": "search", "placeholder": _("Actor, object ID, kind or detail")}
        )
        for name in ("seq_from", "seq_to"):
            self.fields[name].widget.attrs.update({"inputmode": "numeric"})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        a, b = data.get("date_from"), data.get("date_to")
        if a and b and a > b:
            self.add_error("date_to", _("The end date is before the start date."))
        s, e = data.get("seq_from"), data.get("seq_to")
        if s and e and s > e:
            self.add_error("seq_to", _("The end is before the start."))
        return data

    def filters(self) -> AuditFilters:
        """The valid form's filters."""
        return AuditFilters.of({k: v for k, v in self.cleaned_data.items() if v not in (None, "")})
