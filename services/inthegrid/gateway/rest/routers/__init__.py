"""One small router per resource (push streams live in gateway/stream)."""
