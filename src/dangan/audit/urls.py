from django.urls import path

from dangan.audit import views

app_name = "audit"

# Every page needs Perm.READ_AUDIT (安全审计员 only).
urlpatterns = [
    path("", views.events_list, name="events"),  # GET
    path("export.csv", views.export_csv, name="export-csv"),  # GET
    path("export.pdf", views.export_pdf, name="export-pdf"),  # GET
    path("verify/", views.verify, name="verify"),  # GET (the form), POST (verify now)
]
