"""Scheduled posts for every feature: schedule rules (time, zone, days, DST), the injected clock,
the :class:`~bot.schedule.posting.Poster` protocol the platforms implement, and the scheduler that
turns due jobs into posts exactly once across restarts and replicas. It knows no feature: each
one plugs in as a job kind."""
