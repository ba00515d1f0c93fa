"""Small reusable Qt pieces (the marked timeline slider, pyqtgraph axis styling) with no window knowledge."""
