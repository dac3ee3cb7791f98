"""One adapter per platform; only telegram.py knows the Telegram framework."""
