"""Request/response endpoints: one router per resource, their shared dependencies and response shapes."""
