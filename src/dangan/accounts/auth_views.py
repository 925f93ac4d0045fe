"""The login page (with the lockout and rate-limit messages) and the password page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from dangan.accounts import passwords
from dangan.accounts.backends import LOCKED, RATE_LIMITED, LoginRefusal, client_ip, refusal_of
from dangan.accounts.middleware import idle_seconds
from dangan.accounts.roles import Actor
from dangan.audit import events


def refusal_message(refusal: LoginRefusal) -> str:
    until = timezone.localtime(refusal.until).strftime("%Y-%m-%d %H:%M")
    if refusal.reason == RATE_LIMITED:
        return (
            f"此地址登录失败次数过多，请于 {until} 后再试。"
            f"Too many failed sign-ins from this address; try again after {until}."
        )
    return (
        f"该账户因多次登录失败已被锁定至 {until}，请届时再试，或请系统管理员解锁。"
        f"This account is locked until {until} after repeated failed sign-ins; try again then, "
        "or ask the system administrator to unlock it."
    )


EXPIRED_NOTES = {
    "idle": "因长时间未操作，会话已结束，请重新登录。Your session ended after {minutes} minutes without "
    "activity; please sign in again.",
    "absolute": "会话已达到最长时限，请重新登录。Your session reached its maximum length; please sign in again.",
}
SSO_FAILED_NOTE = (
    "统一身份认证登录未成功，请重试或使用用户名和密码登录。"
    "Single sign-on did not succeed; try again or sign in with your user name and password."
)


class LoginForm(AuthenticationForm):
    """Django's login form; a lockout or rate-limit refusal gets its own message (with the time)."""

    def get_invalid_login_error(self) -> ValidationError:
        refusal = refusal_of(self.request)
        if refusal is not None:
            return ValidationError(refusal_message(refusal), code=refusal.reason)
        return super().get_invalid_login_error()


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        refusal = refusal_of(self.request)
        note = ""
        expired = self.request.GET.get("expired", "")
        if expired in EXPIRED_NOTES:
            note = EXPIRED_NOTES[expired].format(minutes=int(idle_seconds() // 60))
        elif self.request.GET.get("sso") == "failed":
            note = SSO_FAILED_NOTE
        context.update(
            refusal=refusal_message(refusal) if refusal else "",
            session_note=note,
            oidc_enabled=bool(getattr(settings, "OIDC_ENABLED", False)),
        )
        return context

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        refusal = refusal_of(self.request)
        if refusal is not None and refusal.reason in (RATE_LIMITED, LOCKED):
            wait = max(1, int((refusal.until - timezone.now()).total_seconds()))
            if refusal.reason == RATE_LIMITED:
                response.status_code = 429
            response["Retry-After"] = str(wait)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """The person's own password: required before anything else after a reset or on expiry."""

    template_name = "web/password_change.html"
    form_class = PasswordChangeForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user: Any = self.request.user  # signed in: the view requires it
        context.update(
            change_reason=passwords.change_required(user),
            policy=password_validators_help_texts(),
            has_password=user.has_usable_password(),
            next=self._next_url() or "",
        )
        return context

    def _next_url(self) -> str | None:
        url = self.request.POST.get("next") or self.request.GET.get("next")
        if url and url_has_allowed_host_and_scheme(
            url, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ):
            return url
        return None

    def get_success_url(self) -> str:
        return self._next_url() or reverse("web:dashboard")

    def form_valid(self, form: Any) -> HttpResponse:
        user = self.request.user
        reason = passwords.change_required(user) or "voluntary"
        with transaction.atomic():
            response = super().form_valid(form)  # saves, keeps this session signed in (new key)
            passwords.record_own_change(user)
            events.password_changed(
                Actor.from_user(user, client_ip(self.request)),
                user.pk,
                username=user.get_username(),
                reason=reason,
            )
        messages.success(self.request, "密码已修改。Your password has been changed.")
        return response
