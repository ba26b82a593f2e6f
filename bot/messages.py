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
TIPS_POST_TITLE = "Daily tip"
TIPS_POST_FOOTER = "A daily tip from careerbot. Admins change it with /tips; /tips list shows the schedule."
TIPS_BAD_ACTION = "“{value}” is not something /tips does. Use one of: {actions}. Usage: `{usage}`"
TIPS_ADMINS_ONLY = (
    "Only workspace admins can change daily tips (on Slack an admin or owner, on Discord Manage Server). "
    "Anyone can use `/tips list` and `/tips preview`."
)
TIPS_BAD_TIME = "“{value}” is not a time. Use HH:MM on a 24-hour clock, e.g. `time:09:00` or `time:17:30`."
TIPS_BAD_ZONE = (
    "“{value}” is not a time zone I know.{hint} Use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`."
)
TIPS_BAD_DAYS = (
    "“{value}” is not a set of days. Use `weekdays`, `daily`, `weekends`, or e.g. `mon,wed,fri` or `mon-thu`."
)
TIPS_BAD_TOPIC = "There are no tips about “{value}” yet. Topics with tips include: {examples}."
TIPS_UNCLEAR = "I could not tell what “{value}” is. Name the option, e.g. `time:09:00`, `timezone:Europe/Berlin`."
TIPS_UNAVAILABLE_TITLE = "Daily tips are not set up here"
TIPS_UNAVAILABLE = "This careerbot runs without a database, so it cannot keep subscriptions. Ask its operator."
TIPS_SUBSCRIBED_TITLE = "Daily tips on for {channel}"
TIPS_UPDATED_TITLE = "Daily tips changed for {channel}"
TIPS_SUBSCRIBED = "One tip {schedule}{topic}. The first one comes {first}."
TIPS_UNSUBSCRIBED_TITLE = "Daily tips stopped for {channel}"
TIPS_UNSUBSCRIBED = "No more daily tips there. `/tips subscribe` starts them again where the rotation left off."
TIPS_NOT_SUBSCRIBED_TITLE = "{channel} gets no daily tips"
TIPS_NOT_SUBSCRIBED = "An admin can start them with `/tips subscribe` in that channel."
TIPS_NONE_TITLE = "No channel gets daily tips yet"
TIPS_LIST_TITLE = "Daily tips in this workspace"
TIPS_SKIPPED_TITLE = "Skipping {day} in {channel}"
TIPS_SKIPPED = "No tip on {day}; they carry on the next scheduled day."
TIPS_ALREADY_SKIPPED = "The tip for {day} in {channel} was already posted or skipped."
TIPS_PREVIEW_FOOTER = "Preview: the next tip for {channel} ({when})."
TIPS_PREVIEW_UNSUBSCRIBED = "Preview: {channel} is not subscribed; `/tips subscribe` starts daily tips like this one."
TIPS_BAD_CHANNEL_MENTION = (
    "“{value}” is not a channel mention I can read. Pick the channel from the list, or type its name, e.g. `#general`."
)
TIPS_EMPTY_CHANNEL = "“{value}” has no channel name. Type it like `#general`."
TIPS_CHANNEL_TOO_LONG = "“{value}” is not a channel: a channel {what} has at most {limit} characters{where}."
TIPS_BAD_CHANNEL_NAME = (
    "“{value}” is not a channel: channel names have only letters, digits, hyphens and underscores, not {chars}."
)
TIPS_SECOND_CHANNEL = "“{value}” looks like a second channel, after {channel}. /tips changes one channel at a time."
TIPS_OPTION_TOO_LONG = "The {option} you gave is too long: {length} characters, at most {limit}."
TIPS_VALUE_TOO_LONG = "{what} is too long to keep: {length} characters, at most {limit}. Nothing was changed."
TIPS_BAD_CLOCK = "Daily tips cannot be scheduled from {now}: the clock is outside the years {first} to {last}."

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
    "Daily tips are unavailable: careerbot's saved data is damaged and needs repair. Nothing was changed; "
    "please tell whoever runs careerbot."
)
STORE_UNAVAILABLE = (
    "Daily tips are unavailable right now: careerbot can't reach its storage. Nothing was changed; "
    "please try again later, or tell whoever runs careerbot."
)
