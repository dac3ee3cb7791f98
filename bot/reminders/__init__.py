"""Working-day calendar, planner, outbox dispatcher and the scheduler's ticks."""
