"""Account pages (账户). Every view checks its permission (see ``views``); the services check again."""

from django.urls import path

from dangan.accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.index, name="index"),
    path("create/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/disable/", views.disable, name="disable"),
    path("<int:pk>/enable/", views.enable, name="enable"),
    path("<int:pk>/unlock/", views.unlock, name="unlock"),
    path("<int:pk>/reset-password/", views.reset_password, name="reset-password"),
    path("<int:pk>/grant/", views.grant, name="grant"),
    path("<int:pk>/revoke/", views.revoke, name="revoke"),
    path("sources/", views.sources, name="sources"),
    path("sources/add/", views.source_add, name="source-add"),
    path("sources/<int:pk>/tokens/", views.token_issue, name="token-issue"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
]
