"""Who may do what: role grants (per fonds), account security state, and source-system API tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class RoleGrant(models.Model):
    """One role held by one account, in one fonds (全宗) or — ``fonds`` empty — in all of them.

    The three separated administrators (三员) are instance-wide: their grants never name a fonds.
    Grants are created and removed only through ``dangan.accounts.services`` (audited, rules checked).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=32)
    fonds = models.ForeignKey(
        "catalog.Fonds", null=True, blank=True, on_delete=models.PROTECT, related_name="role_grants"
    )
    granted_by = models.CharField(max_length=150)
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "角色授权 role grant"
        verbose_name_plural = "角色授权 role grants"
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "fonds"], name="role_grant_unique"),
            models.UniqueConstraint(
                fields=["user", "role"],
                condition=models.Q(fonds__isnull=True),
                name="role_grant_all_fonds_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} {self.fonds.code if self.fonds else '*'}"


class AccountSecurity(models.Model):
    """Per-account security state the login and password policy need."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="security")
    must_change_password = models.BooleanField(default=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    failed_logins = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"security of {self.user}"


class ApiToken(models.Model):
    """A source system's API token: stored only as a hash, with scopes, an expiry and revocation."""

    system = models.ForeignKey("catalog.SourceSystem", on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=16)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "接口令牌 API token"
        verbose_name_plural = "接口令牌 API tokens"
        ordering = ["system__code", "-created_at"]

    def __str__(self) -> str:
        return f"{self.system.code} {self.token_prefix}…"

    def usable(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > moment)  # type: ignore[operator]


class PasswordHistory(models.Model):
    """The hash of a password an account has had (newest first), so the policy can refuse re-use.

    Written by ``dangan.accounts.passwords.PasswordPolicyValidator.password_changed`` whenever a
    password is set; only the last ``DANGAN_PASSWORD_HISTORY`` rows of an account are kept.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history"
    )
    encoded = models.CharField(max_length=256)  # Django's "algorithm$iterations$salt$hash"
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "历史密码 password history"
        verbose_name_plural = "历史密码 password history"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "-created_at"], name="password_history_user")]

    def __str__(self) -> str:
        return f"password of {self.user} set {self.created_at:%Y-%m-%d}"
