from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "dangan.archive"
    label = "archive"
    verbose_name = "档案库 Archive"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from dangan.archive import counts
        from dangan.archive.models import Record

        # Cached catalogue counts (archive.counts) are recounted after any change of a record.
        post_save.connect(counts.bump, sender=Record, dispatch_uid="archive-counts-save")
        post_delete.connect(counts.bump, sender=Record, dispatch_uid="archive-counts-delete")
        from dangan.ingest.models import Submission

        post_save.connect(counts.bump_submissions, sender=Submission, dispatch_uid="archive-counts-sub-save")
        post_delete.connect(
            counts.bump_submissions, sender=Submission, dispatch_uid="archive-counts-sub-delete"
        )
