"""Tests of the careers wing (bot/careers): the career commands as a user types them."""
