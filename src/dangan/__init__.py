"""dangan (档案): archive system for government-service electronic records."""

__version__ = "0.1.0"
