"""Test support shipped with the package (loaded by pytest only, never at run time)."""
