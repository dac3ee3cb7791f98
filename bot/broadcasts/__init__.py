"""Broadcasts to staff and to citizens who opted in to announcements."""
