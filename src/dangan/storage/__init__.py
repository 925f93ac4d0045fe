"""Blob storage: content-addressed, write-once."""
