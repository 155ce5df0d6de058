"""Ways a ticket comes in besides beat's sweep: signed Zendesk webhooks (app.intake.webhook)."""
