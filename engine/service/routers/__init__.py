"""One router per concern: discovery, the hook services, feedback."""
