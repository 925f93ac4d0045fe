"""Forms of the archiving-configuration pages. They only validate input; services change state."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dangan.catalog.models import ArchiveClass, Fonds
from dangan.core.retention import RetentionScale


def retention_choices(scale: RetentionScale, zh: bool) -> list[tuple[str, str]]:
    return [(p.code, f"{p.code} {p.label if zh else p.label_en}") for p in scale.periods]


class RetentionChangeForm(forms.Form):
    material_code = forms.CharField(
        label=_("Material code"),
        required=False,
        max_length=32,
        help_text=_("Leave empty for the whole service item."),
    )
    retention = forms.ChoiceField(label=_("Retention"))
    basis = forms.CharField(
        label=_("Basis"),
        max_length=500,
        help_text=_("The rule it comes from, e.g. 《…保管期限表》第3条."),
    )
    effective_from = forms.DateField(
        label=_("Effective from"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, scale: RetentionScale, zh: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["retention"].choices = retention_choices(scale, zh)  # type: ignore[attr-defined]


class ScopeMaterialForm(forms.Form):
    code = forms.CharField(label=_("Material code"), max_length=32)
    name = forms.CharField(label=_("Material name"), max_length=200)
    required = forms.TypedChoiceField(
        label=_("Necessity"),
        choices=[("1", _("Required")), ("0", _("Optional"))],
        coerce=lambda v: v == "1",
        initial="1",
    )


class AssignClassForm(forms.Form):
    archive_class = forms.ModelChoiceField(label=_("Class"), queryset=ArchiveClass.objects.none())

    def __init__(self, *args: Any, fonds: Fonds, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["archive_class"].queryset = ArchiveClass.objects.filter(fonds=fonds)  # type: ignore[attr-defined]


class ClassForm(forms.Form):
    code = forms.CharField(label=_("Class code"), max_length=16)
    name = forms.CharField(label=_("Class name"), max_length=200)
    parent = forms.ModelChoiceField(
        label=_("Parent class"), queryset=ArchiveClass.objects.none(), required=False, empty_label="—"
    )
    order = forms.IntegerField(label=_("Order"), min_value=0, initial=0, required=False)

    def __init__(self, *args: Any, fonds: Fonds, edit: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = ArchiveClass.objects.filter(fonds=fonds)  # type: ignore[attr-defined]
        if edit:
            del self.fields["code"]


class RetentionCodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=8, help_text=_("e.g. D5"))
    label = forms.CharField(label=_("Name (Chinese)"), max_length=50, help_text=_("e.g. 定期5年"))
    label_en = forms.CharField(label=_("Name (English)"), max_length=50, required=False)
    years = forms.IntegerField(
        label=_("Years"),
        min_value=1,
        max_value=999,
        required=False,
        help_text=_("Leave empty for permanent."),
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Workbook (.xlsx)"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )
    dry_run = forms.BooleanField(label=_("Check only, change nothing"), required=False)
