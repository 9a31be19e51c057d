"""Reliable networking: the WebSocket stream, retries, circuit breakers and rate limits."""
