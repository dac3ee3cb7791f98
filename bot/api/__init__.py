"""The HTTP API for the one-stop software (phần mềm một cửa điện tử): it pushes dossiers
and their status changes; served by `hanchot run` next to the bot."""
