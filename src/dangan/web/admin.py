from dangan.web import readonly_admin  # noqa: F401 - registers the read-only admin views
