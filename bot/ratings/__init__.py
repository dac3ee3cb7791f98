"""Citizens' satisfaction ratings after pickup (SIPAS-style)."""
