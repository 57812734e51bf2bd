"""caravan_notify_webhook: POST allocation and deployment changes to a webhook URL."""
