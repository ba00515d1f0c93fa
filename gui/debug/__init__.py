"""The debugger's docks: breakpoints, watches and forks, over one shared DebuggerModel."""
