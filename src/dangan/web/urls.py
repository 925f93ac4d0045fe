from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import path
from django.views.generic.base import RedirectView

from dangan.accounts import auth_views as account_views
from dangan.web import preservation_views, views

app_name = "web"

urlpatterns = [
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", account_views.PasswordChangeView.as_view(), name="password-change"),
    path("", views.dashboard, name="dashboard"),
    # Browsers that ask for /favicon.ico regardless of <link rel="icon"> get the SVG icon.
    path("favicon.ico", RedirectView.as_view(url=static("web/favicon.svg")), name="favicon"),
    path("prearchive/", views.prearchive, name="prearchive"),
    path("prearchive/confirm/", views.confirm_selected, name="confirm-selected"),
    path("records/", views.records, name="records"),
    path("records/<int:pk>/", views.record, name="record"),
    path("records/<int:pk>/confirm/", views.confirm, name="confirm"),
    path("records/<int:pk>/return/", views.return_record, name="return"),
    path("records/<int:pk>/files/<path:path>", views.record_file, name="record-file"),
    path("records/<int:pk>/report.pdf", views.record_report, {"fmt": "pdf"}, name="record-report-pdf"),
    path("records/<int:pk>/report.html", views.record_report, {"fmt": "html"}, name="record-report-html"),
    path("records/<int:pk>/supplement/", views.supplement, name="supplement"),
    path("records/<int:pk>/correct/", views.correct, name="correct"),
    path("records/<int:pk>/aip/v<int:version>.zip", views.aip_download, name="aip-download"),
    path("records/registration-form/", views.registration_form, name="registration-form"),
    path(
        "records/registration-form.xlsx",
        views.registration_download,
        {"fmt": "xlsx"},
        name="registration-form-xlsx",
    ),
    path(
        "records/registration-form.pdf",
        views.registration_download,
        {"fmt": "pdf"},
        name="registration-form-pdf",
    ),
    path("records/catalogue/", views.catalogue, name="catalogue"),
    path("records/catalogue.xlsx", views.catalogue_download, {"fmt": "xlsx"}, name="catalogue-xlsx"),
    path("records/catalogue.pdf", views.catalogue_download, {"fmt": "pdf"}, name="catalogue-pdf"),
    path("deadlines/", views.deadlines, name="deadlines"),
    path("deadlines/records/", views.deadline_records, name="deadline-records"),
    path("rejected/", views.rejected, name="rejected"),
    path("bulk/", views.bulk_start, name="bulk"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:pk>/", views.job, name="job"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job-progress"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="job-cancel"),
    path("jobs/<int:pk>/resume/", views.job_resume, name="job-resume"),
    path("jobs/<int:pk>/result.zip", views.job_result, name="job-result"),
    path("submissions/<uuid:pk>/", views.submission, name="submission"),
    path("preservation/", preservation_views.preservation, name="preservation"),
]
