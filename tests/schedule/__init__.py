"""The generic scheduler: job kinds other than tips, on SQLite and PostgreSQL."""
