"""The meeting itself: the join click path, rooms, attendance, video and phone providers."""
