"""Developer tooling: the local stack, the SMTP sink and the demo."""
