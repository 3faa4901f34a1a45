"""The service layer: one module per capability (members, invitations, updates, moderation,
tips, campaigns, surveys, reports, notices). Each operation runs inside the unit of work it is
given (`bot.core.ports.Transaction`), checks the role it needs and writes the audit log, so
every caller — a conversation, the scheduler, the CLI, the dashboard — gets the same rules.
Services depend on the core only; conversations (handlers/) call services, never the reverse.
"""
