"""Operator tools: health, alerts, run reports and Flower's safety rules."""
