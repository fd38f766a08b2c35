"""Daily checks (SPEC §1 rule 10, §6.4): checklists, heartbeats and http probes."""
