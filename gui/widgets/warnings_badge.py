"""The status bar's warnings badge: how many loader/capture warnings the current run has, the
list in its tooltip, and the full text in a dialog on click (warnings are never swallowed)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QStyle, QToolButton, QWidget


class WarningsBadge(QToolButton):
    """Hidden when there is nothing to say; "⚠ N warnings" otherwise."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoRaise(True)
        self.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
        self.setToolButtonStyle(self.toolButtonStyle().ToolButtonTextBesideIcon)
        self.setAccessibleName("Warnings")
        self.warnings: list[str] = []
        self.clicked.connect(self.show_list)
        self.set_warnings([])

    def set_warnings(self, warnings: list[str]) -> None:
        self.warnings = list(warnings)
        count = len(self.warnings)
        self.setText(f"{count} warning{'s' if count != 1 else ''}")
        self.setToolTip("\n".join(f"• {w}" for w in self.warnings))
        self.setVisible(bool(count))

    def show_list(self) -> None:
        if not self.warnings:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Warnings about this model and run",
                          f"{len(self.warnings)} warning(s) from loading and running the model:",
                          QMessageBox.StandardButton.Close, self.window())
        box.setDetailedText("\n\n".join(self.warnings))
        box.setInformativeText("\n".join(f"• {w}" for w in self.warnings[:6])
                               + ("\n…" if len(self.warnings) > 6 else ""))
        box.open()
