"""The push side: Server-Sent Events and WebSocket channels, subscriptions (resume) and their endpoints."""
