from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from dangan.archive import api as archive_api
from dangan.conf.health import healthz
from dangan.ingest import api as ingest_api

api_v1 = [
    path("cases", ingest_api.CaseUploadView.as_view(), name="api-cases"),
    path("checks", ingest_api.PrecheckView.as_view(), name="api-checks"),
    path("submissions/<uuid:pk>", ingest_api.SubmissionView.as_view(), name="api-submission"),
    path("records", archive_api.RecordListView.as_view(), name="api-records"),
    path("records/<int:pk>", archive_api.RecordDetailView.as_view(), name="api-record"),
    path("records/<int:pk>/confirm", archive_api.ConfirmView.as_view(), name="api-record-confirm"),
    path("records/<int:pk>/return", archive_api.ReturnView.as_view(), name="api-record-return"),
    path("records/<int:pk>/versions", archive_api.VersionsView.as_view(), name="api-record-versions"),
    path("records/<int:pk>/supplement", archive_api.SupplementView.as_view(), name="api-record-supplement"),
    path("records/<int:pk>/correct", archive_api.CorrectView.as_view(), name="api-record-correct"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("catalog/", include("dangan.catalog.urls")),
    path("audit/", include("dangan.audit.urls")),
    path("oidc/", include("dangan.accounts.oidc")),  # single sign-on: no URLs unless DANGAN_OIDC_* set
    path("accounts/", include("dangan.accounts.urls")),
    path("", include("dangan.web.urls")),
]
