"""claude-force 2.2 compatibility suite (a package, so its conftest does not shadow tests/conftest.py)."""
