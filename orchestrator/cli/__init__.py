"""The ``orchestrator`` command, one module per command group.

Each module has the functions that run its commands, taking plain typed arguments;
``orchestrator/__main__.py`` parses the command line (argparse lives only there) and
calls them. ``runner`` holds what every
command shares: the settings and a unit of work with the database.
"""
