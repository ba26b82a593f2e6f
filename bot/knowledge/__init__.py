"""The curated knowledge: its schema (:mod:`~bot.knowledge.schema`), the loader and validator that
turn YAML into entries or ``FILE:LINE`` problems (:mod:`~bot.knowledge.loader`), lookup
(:mod:`~bot.knowledge.kb`), and how an entry is named and linked in a reply
(:mod:`~bot.knowledge.present`)."""
