"""Messaging: the outbox and the mail, invitations, notices, reminders, replies, webhooks."""
