"""Speed figures for ``main.py bench``: numbers for notes and regressions, not unit tests."""
