"""Reform (CCHC) tasks and the reporting calendar: plans, reminders, progress, extensions."""
