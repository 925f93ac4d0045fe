"""Password policy: length, character classes, no user name, no re-use; expiry and forced change.

``PasswordPolicyValidator`` is a Django password validator (``AUTH_PASSWORD_VALIDATORS``), so the
password page, the admin screens and ``manage changepassword`` all apply it. Its
``password_changed`` hook, which Django calls whenever a password is set and saved, keeps the hashes
of the last ``PASSWORD_HISTORY`` passwords (``PasswordHistory``).

Settings (read on every call, so ``override_settings`` works): ``PASSWORD_MIN_LENGTH`` (12),
``PASSWORD_HISTORY`` (5), ``PASSWORD_MAX_AGE_DAYS`` (0: no expiry).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from dangan.accounts.models import AccountSecurity, PasswordHistory

MIN_CLASSES = 3  # of: upper case, lower case, digits, other characters

#: Why a signed-in person must choose a new password before doing anything else.
CHANGE_INITIAL = "initial"  # a password someone else chose: the first one, or after a reset
CHANGE_EXPIRED = "expired"  # older than PASSWORD_MAX_AGE_DAYS


def min_length() -> int:
    return int(getattr(settings, "PASSWORD_MIN_LENGTH", 12))


def history_size() -> int:
    return max(0, int(getattr(settings, "PASSWORD_HISTORY", 5)))


def max_age_days() -> int:
    return max(0, int(getattr(settings, "PASSWORD_MAX_AGE_DAYS", 0)))


def character_classes(password: str) -> int:
    """How many of upper case, lower case, digits and others (punctuation, spaces, 汉字…) occur."""
    upper = lower = digit = other = False
    for c in password:
        if c.isupper():
            upper = True
        elif c.islower():
            lower = True
        elif c.isdigit():
            digit = True
        else:
            other = True
    return upper + lower + digit + other


class PasswordPolicyValidator:
    """Refuses a password that is short, uses too few character classes, holds the user name, or
    was one of the account's last few passwords. Messages are bilingual (中文 English)."""

    def __init__(
        self, min_length: int | None = None, min_classes: int = MIN_CLASSES, history: int | None = None
    ) -> None:
        self._min_length = min_length
        self.min_classes = min_classes
        self._history = history

    @property
    def min_length(self) -> int:
        return self._min_length if self._min_length is not None else min_length()

    @property
    def history(self) -> int:
        return self._history if self._history is not None else history_size()

    def validate(self, password: str, user: Any = None) -> None:
        errors: list[ValidationError] = []
        if len(password) < self.min_length:
            errors.append(
                ValidationError(
                    "密码至少需要 %(min_length)d 个字符。The password must be at least %(min_length)d characters long.",
                    code="password_too_short",
                    params={"min_length": self.min_length},
                )
            )
        if character_classes(password) < self.min_classes:
            errors.append(
                ValidationError(
                    "密码须包含大写字母、小写字母、数字、符号中的至少 %(min_classes)d 类。"
                    "The password must mix at least %(min_classes)d of: upper-case letters, "
                    "lower-case letters, digits, symbols.",
                    code="password_too_simple",
                    params={"min_classes": self.min_classes},
                )
            )
        username = user.get_username() if user is not None and hasattr(user, "get_username") else ""
        if username and len(username) >= 3 and username.casefold() in password.casefold():
            errors.append(
                ValidationError(
                    "密码不得包含用户名。The password must not contain the user name.",
                    code="password_contains_username",
                )
            )
        if not errors and user is not None and self._reused(password, user):
            errors.append(
                ValidationError(
                    "不得使用最近 %(history)d 次用过的密码。"
                    "The password must differ from the last %(history)d passwords of this account.",
                    code="password_reused",
                    params={"history": self.history},
                )
            )
        if errors:
            raise ValidationError(errors)

    def _reused(self, password: str, user: Any) -> bool:
        """One of the last ``history`` passwords (the current one included)? One hash check each."""
        if self.history <= 0 or getattr(user, "pk", None) is None:
            return False
        encoded = list(
            PasswordHistory.objects.filter(user_id=user.pk).values_list("encoded", flat=True)[: self.history]
        )
        current = getattr(user, "password", "")
        if current and current not in encoded:
            encoded = [current, *encoded][: self.history]  # accounts older than the history table
        return any(check_password(password, e) for e in encoded)

    def password_changed(self, password: str, user: Any = None) -> None:
        """Django calls this after a new password was saved (``set_password`` + ``save``)."""
        if user is not None:
            remember_password(user, keep=self.history)

    def get_help_text(self) -> str:
        text = (
            f"至少 {self.min_length} 个字符，包含大写字母、小写字母、数字、符号中的至少 {self.min_classes} 类，"
            f"不含用户名"
        )
        english = (
            f"At least {self.min_length} characters, mixing at least {self.min_classes} of upper-case "
            "letters, lower-case letters, digits and symbols, without the user name"
        )
        if self.history > 0:
            text += f"，且不同于最近 {self.history} 次用过的密码"
            english += f", and different from the last {self.history} passwords"
        return f"{text}。{english}."


def remember_password(user: Any, keep: int | None = None) -> None:
    """Add the account's current password hash to its history (once), forget all but the last ``keep``.

    Called for every password set (``password_changed`` above) and for every new account
    (``accounts.signals``: ``create_user`` stores a hash without ``set_password``).
    """
    if getattr(user, "pk", None) is None or not user.has_usable_password():
        return
    keep = history_size() if keep is None else keep
    rows = PasswordHistory.objects.filter(user_id=user.pk)
    if keep <= 0:
        rows.delete()
        return
    if rows.values_list("encoded", flat=True).first() != user.password:
        PasswordHistory.objects.create(user_id=user.pk, encoded=user.password)
    stale = list(rows.values_list("pk", flat=True)[keep : keep + 100])
    if stale:
        PasswordHistory.objects.filter(pk__in=stale).delete()


def change_required(user: Any) -> str | None:
    """``CHANGE_INITIAL`` or ``CHANGE_EXPIRED`` when ``user`` must choose a new password now, else None.

    An account without a security row (created before these rules, or by single sign-on) need not.
    """
    if getattr(user, "pk", None) is None:
        return None
    row = (
        AccountSecurity.objects.filter(user_id=user.pk)
        .values_list("must_change_password", "password_changed_at")
        .first()
    )
    if row is None:
        return None
    must_change, changed_at = row
    if not user.has_usable_password():
        return None  # signs in only through single sign-on: there is no password to change
    if must_change:
        return CHANGE_INITIAL
    days = max_age_days()
    if days and changed_at is not None and changed_at + timedelta(days=days) <= timezone.now():
        return CHANGE_EXPIRED
    return None


def security_of(user: Any) -> AccountSecurity:
    """The account's security row, created when missing (an existing account need not change its password)."""
    try:
        with transaction.atomic():
            sec, _ = AccountSecurity.objects.get_or_create(
                user_id=user.pk, defaults={"must_change_password": False}
            )
    except IntegrityError:  # created by a concurrent request in between
        sec = AccountSecurity.objects.get(user_id=user.pk)
    return sec


def record_own_change(user: Any) -> None:
    """The person chose a new password himself: no forced change pending, the expiry clock restarts."""
    sec = security_of(user)
    sec.must_change_password = False
    sec.password_changed_at = timezone.now()
    sec.save(update_fields=["must_change_password", "password_changed_at"])
