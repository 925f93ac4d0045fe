"""Pure domain logic. Nothing here imports Django (tests/test_architecture.py enforces it)."""
