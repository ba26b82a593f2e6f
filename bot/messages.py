"""User-facing text that is not knowledge: errors, refusals, help framing. Kept in one place."""

from __future__ import annotations

INTERNAL_ERROR_TITLE = "Something went wrong on our side"
INTERNAL_ERROR = "That request failed inside careerbot. It has been logged; please try again in a moment."
CANNOT_TITLE = "That didn't work"
UNKNOWN_COMMAND_TITLE = "I don't know the command /{name}"
UNKNOWN_COMMAND = "Here is what I can answer. `/career` shows them all with examples."
MISSING_OPTION = "/{command} needs {option}: {description}"
BAD_INTEGER = "{option} must be a whole number, not “{value}”"
EMPTY_QUESTION_TITLE = "Ask me about healthcare software careers"
EMPTY_QUESTION = "Try `/role ehr`, `/skills`, `/compliance hipaa` or just ask a question in plain words."
NO_MATCH_TITLE = "No {kind} matches “{query}”"
NO_MATCH = "Here is everything I know about. Pick one, or try `/search {query}`."
CLOSE_CALL_FOOTER = "Not what you meant? Also close: {others}"
NOTHING_FOUND_TITLE = "Nothing found for “{query}”"
NOTHING_FOUND = "Try fewer or different words, or browse with `/role`, `/skills`, `/software`, `/compliance`."
KNOWLEDGE_RELOADED = "knowledge reloaded from {path}"
KNOWLEDGE_REJECTED = "knowledge in {path} is invalid; still serving the last good version:\n{report}"

# Daily tips (/tips)
BAD_TIME = "“{value}” is not a time. Use HH:MM on a 24-hour clock, e.g. `time:09:00` or `time:17:30`."
BAD_ZONE = (
    "“{value}” is not a time zone I know.{hint} Use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`."
)
BAD_DAYS = "“{value}” is not a set of days. Use `weekdays`, `daily`, `weekends`, or e.g. `mon,wed,fri` or `mon-thu`."
BAD_CHANNEL_MENTION = (
    "“{value}” is not a channel mention I can read. Pick the channel from the list, or type its name, e.g. `#general`."
)
EMPTY_CHANNEL = "“{value}” has no channel name. Type it like `#general`."
CHANNEL_TOO_LONG = "“{value}” is not a channel: a channel {what} has at most {limit} characters{where}."
BAD_CHANNEL_NAME = (
    "“{value}” is not a channel: channel names have only letters, digits, hyphens and underscores, not {chars}."
)
BAD_CLOCK = "Daily tips cannot be scheduled from {now}: the clock is outside the years {first} to {last}."

# The store (user-facing: no paths or technical detail; the log has those)
STORE_READONLY = (
    "I can't save changes right now: careerbot's storage is read-only. Nothing was changed; "
    "please tell whoever runs careerbot."
)
STORE_FULL = (
    "I can't save changes right now: careerbot's storage is full. Nothing was changed; "
    "please tell whoever runs careerbot."
)
STORE_DAMAGED = (
    "I can't use careerbot's saved data right now: it is damaged and needs repair. Nothing was changed; "
    "please tell whoever runs careerbot."
)
STORE_UNAVAILABLE = (
    "I can't reach careerbot's storage right now. Nothing was changed; "
    "please try again later, or tell whoever runs careerbot."
)
