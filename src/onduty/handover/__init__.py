"""The weekly on-call handover (SPEC §1 rule 11, §6.4)."""
