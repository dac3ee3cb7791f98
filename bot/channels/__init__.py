"""One adapter per platform. Only telegram.py imports aiogram."""
