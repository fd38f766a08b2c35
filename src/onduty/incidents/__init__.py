"""Incidents: alerts and their dedup, the lifecycle, timelines, triage and journey stages."""
