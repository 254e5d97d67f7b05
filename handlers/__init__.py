"""Transport adapters: Twilio webhook, Telegram routers, responder actions."""
