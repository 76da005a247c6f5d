"""Outbound adapters to the outside world: video, phone, mail, calendars, case systems.

Nothing here imports ``orchestrator``; each adapter takes its own small config and an
``aiohttp.ClientSession`` that its caller owns.
"""
