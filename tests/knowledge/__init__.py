"""Tests of the knowledge infrastructure (bot/knowledge): validation, lookup, reload, hostile files."""
