"""Debugging a session: breakpoints and watches in a small expression language, where they hit, and a debugging session saved and restored."""
