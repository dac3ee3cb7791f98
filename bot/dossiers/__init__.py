"""Citizens' dossiers: status rules, intake (import, HTTP API), notices and reminders."""
