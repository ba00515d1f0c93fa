"""Pictures and numbers out of the window: figure rendering, the export dialog and the headless command."""
