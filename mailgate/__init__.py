"""The mail gateway: the SMTP server, the routing of every message, the outbound queue."""
