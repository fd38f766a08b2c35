"""On-call metrics (SPEC §1 rule 12, §6.4)."""
