"""LSTM Scope's window: PySide6 + pyqtgraph views that observe an engine Session.

Nothing here computes LSTM math; every number shown comes from ``engine``.
"""
