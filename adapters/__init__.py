"""Platform adapters: each turns its platform's payloads into core invocations and renders replies."""
