"""The main window's behaviour by job, the parts ``gui.main_window.MainWindow`` is made of:
loading, the transport, following the run it shows, the View and Help commands."""
