"""What a ticket becomes: payloads and records, the taxonomy, the rules classifier, what the fleet
writes back, and the run summary. No I/O: app.fleet reads and writes (app.fleet.writeback)."""
