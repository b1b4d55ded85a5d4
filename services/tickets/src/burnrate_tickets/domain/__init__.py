"""Pure logic of the tickets service: business calendars and service-level clocks (no I/O)."""
