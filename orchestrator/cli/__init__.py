"""The ``orchestrator`` command, one module per command group.

Each module has ``add_command(sub)``, which adds its sub-parser, and the functions that run
it; ``orchestrator/__main__.py`` only assembles the parser. ``runner`` holds what every
command shares: the settings and a unit of work with the database.
"""
