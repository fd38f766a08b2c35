"""The public status page: components, status incidents and their updates, scheduled
maintenance, subscribers, the Statuspage-compatible JSON, and Intercom conversations."""
