"""Working from Slack: each incident's message and thread in its team's channel (threads.py),
and the `/onduty` slash command and the buttons and modals behind it (commands.py)."""
