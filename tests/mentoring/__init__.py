"""Mentoring: the pure matching of peers and mentors."""
