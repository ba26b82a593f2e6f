"""What the mentoring wing says to people: confirmations, refusals, status and reports. Every value a
person typed is echoed through :func:`bot.safety.one_line` by whoever fills these in."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from bot.safety import one_line

if TYPE_CHECKING:
    from bot.mentoring.store import Settings

# ------------------------------------------------------------------ refusals of the words themselves
BAD_ACTION = "“{value}” is not something /mentoring does. Use one of: {actions}."
BAD_STEP = "“{value}” is not something `/mentoring {action}` does. Use one of: {steps}."
UNCLEAR = "I could not tell what “{value}” is. Name the option, e.g. `{example}`."
NOT_TAKEN = "`/mentoring {action}` does not take {option}. It takes: {takes}."
TAKES_NOTHING = "`/mentoring {action}` takes no options."
NOBODY_ELSE = (
    "`/mentoring {action}` is always about you: nobody can join, change or remove someone else. "
    "Ask them to run it themselves."
)
TWICE = "You gave {option} twice. Give it once."
TOO_LONG = "The {option} you gave is too long: {length} characters, at most {limit}. Nothing was changed."
CONTROL = "The {option} you gave contains control characters. Type it as plain text."
CONTROL_TEXT = "That command contains control characters. Type it as plain text."
BAD_NUMBER = "{option} must be a whole number from {low} to {high}, not “{value}”."
BAD_CHOICE = "{option} must be one of {choices}, not “{value}”."
BAD_EVERY = "“{value}” is not a cadence. Use `every:1`, `every:2` or `every:4` (weeks), or `weekly`, `biweekly`."
BAD_DAY = "“{value}” is not one day of the week. Use one of mon, tue, wed, thu, fri, sat, sun."
BAD_BOOLEAN = "{option} must be true or false, not “{value}”."
BAD_GROUP = "“{value}” is not a group number. The check-in message has the right button."

# ------------------------------------------------------------------ who may do what
ADMINS_ONLY = (
    "Only workspace admins can run mentoring programs (on Slack an admin or owner, on Discord Manage Server). "
    "Anyone can `/mentoring join` a program."
)
NO_PRIVATE = (
    "Mentoring introduces people in private group messages, and careerbot cannot send those on {platform} here. "
    "Nothing was created."
)
UNAVAILABLE_TITLE = "Mentoring is not set up here"
UNAVAILABLE = "This careerbot runs without a database, so it cannot keep mentoring programs. Ask its operator."

# ------------------------------------------------------------------ programs
NO_PROGRAM_TITLE = "No mentoring program in this channel"
NO_PROGRAM = (
    "An admin can start one here with `/mentoring program create`, e.g. `/mentoring program create kind:pairs`."
)
NO_PROGRAM_HERE = "There is no mentoring program in {channel}. An admin can start one with `/mentoring program create`."
WHICH_PROGRAM = "Run this in the channel of the program you mean: you are in the programs of {channels}."
NOT_IN_ANY = "You are not in a mentoring program. Run `/mentoring join` in a channel that has one."
ENDED = "The mentoring program in {channel} has ended. An admin can start a new one with `/mentoring program create`."
CREATED_TITLE = "Mentoring started in {channel}"
CREATED = "{about}. The first round is due {first}. Members opt in with `/mentoring join`."
EXISTS_TITLE = "{channel} already has a mentoring program"
EXISTS = "It is {state}. Nothing was changed; `/mentoring program end` it first to start a different one."
SIZE_FOR_PAIRS = "A mentor program matches one mentor with one mentee, so it takes no size (or `size:2`)."
PAUSED_TITLE = "Mentoring paused in {channel}"
PAUSED = "No rounds, intros or check-ins until an admin runs `/mentoring program resume`. Members stay in."
RESUMED_TITLE = "Mentoring resumed in {channel}"
RESUMED = "The next round is due {next}."
ENDED_TITLE = "Mentoring ended in {channel}"
ENDED_DONE = "No more rounds. Pending intros and check-ins were cancelled."
ALREADY_TITLE = "The program in {channel} is already {state}"
ALREADY = "Nothing was changed."
CANNOT_RESUME_ENDED = "An ended program cannot be resumed. Start a new one with `/mentoring program create`."
STATUS_TITLE = "Mentoring in {channel}"
STATUS_SUMMARY = "{about}. {members}."
NOT_SCHEDULED = "not scheduled ({state})"
KIND_PAIRS = "Peer groups of {size}"
KIND_MENTOR = "Mentors and mentees, one to one"
CADENCE = "every {weeks} on {day} at {time} {zone}"

# ------------------------------------------------------------------ reports
REPORT_TITLE = "Mentoring report for {channel}"
REPORT_SUMMARY = "Rounds: {rounds}. Groups: {groups}. Match rate: {match}. Met rate: {met}."
NO_ONE_SAT_OUT = "Nobody sat out the last round."
NO_ROUND_YET = "No round has been made yet."
CSV_CUT = "# cut here: the report is longer than a message holds"

# ------------------------------------------------------------------ members
JOINED_TITLE = "You joined mentoring in {channel}"
JOINED = "You are in as a {role}. You will be introduced to {whom} from the next round, due {next}."
UPDATED_TITLE = "Your mentoring profile in {channel} is updated"
UPDATED = "You are in as a {role}."
NOT_MEMBER = "You are not in the mentoring program of {channel}. `/mentoring join` opts you in."
PEER_IN_MENTOR = "The program in {channel} matches mentors with mentees: join as `role:mentor` or `role:mentee`."
MENTOR_IN_PAIRS = "The program in {channel} makes peer groups: join as `role:peer` (or leave role out)."
CAPACITY_FOR_MENTORS = "Only mentors take a capacity (how many mentees per round)."
LEFT_TITLE = "You left mentoring in {channel}"
LEFT = (
    "You will not be matched there any more. Past rounds stay, so you will not meet the same people "
    "at once if you rejoin."
)
SNOOZED_TITLE = "Mentoring snoozed until {until}"
SNOOZED = "You will not be matched in {channel} before {until}; after that you are back without doing anything."
PAUSED_ME_TITLE = "Mentoring paused for you"
PAUSED_ME = "You will not be matched in {channel} until you run `/mentoring resume`."
BACK_TITLE = "You are back in mentoring"
BACK = "You will be matched in {channel} from the next round."
BAD_UNTIL = "“{value}” is not a date to snooze until. Use YYYY-MM-DD, or `1w`, `2w`, `4w`."
PAST_UNTIL = "{until} is not after today ({today}). Pick a later day."
FAR_UNTIL = "{until} is more than {weeks} weeks away. Snooze for less, or `/mentoring leave`."

# ------------------------------------------------------------------ interests and bios
UNKNOWN_INTEREST = (
    "I don't know “{value}” (in {option}).{hint} "
    "Use a role, skill, standard or regulation, e.g. `fhir`, `sql`, `hipaa`."
)
DID_YOU_MEAN = " Did you mean `{value}`: {title}?"
TOO_MANY = "{option} takes at most {limit} entries; you gave {count}."
BIO_TOO_LONG = "Your bio is {length} characters; at most {limit}. Shorten it (it is not cut for you)."
BIO_TOO_LONG_SAFE = "Your bio is too long to keep once made safe to show: {length} characters, at most {limit}."
VALUE_TOO_LONG = "{what} is too long to keep: {length} characters, at most {limit}. Nothing was changed."

# ------------------------------------------------------------------ blocks, forgetting, check-ins
BAD_USER = "“{value}” is not a person. Mention them (e.g. `@name`) or give their user id."
NOT_A_PERSON = "“{value}” is a role or a broadcast, not a person. Block one person at a time."
NEEDS_USER = "Say who, e.g. `/mentoring {action} user:@name`."
BLOCK_SELF = "You cannot block yourself."
BLOCKED_TITLE = "You will not be matched with {user}"
BLOCKED = "In any mentoring program here. They are not told. `/mentoring unblock user:{user}` undoes it."
ALREADY_BLOCKED = "You already asked not to be matched with {user}. Nothing changed."
UNBLOCKED_TITLE = "You can be matched with {user} again"
UNBLOCKED = "They were never told either way."
NOT_BLOCKED = "You had not blocked {user}. Nothing changed."
FORGOT_TITLE = "Careerbot forgot your mentoring data here"
FORGOT = (
    "Deleted: {memberships}, {blocks}, and any block by others naming you. In past groups your id is now an "
    "anonymous placeholder, so nobody's history points to you. {count} records changed."
)
NOTHING_TO_FORGET_TITLE = "Careerbot had no mentoring data about you here"
NOTHING_TO_FORGET = "Nothing to delete."
NEEDS_ANSWER = "Say how it went: `/mentoring checkin met group:ID`, `not-yet` or `no`."
NEEDS_GROUP = "Say which group, e.g. `/mentoring checkin met group:42` (the check-in's buttons do it for you)."
NOT_IN_GROUP = "You were not in group {group}, so you cannot answer its check-in."
ANSWERED_TITLE = "Thanks for checking in"
ANSWERS = {
    "met": "Great that you met. See you next round.",
    "not_yet": "No worries; there is still time. You can answer again once you have met.",
    "no": "Thanks for saying so. You will meet someone new next round.",
}

# ------------------------------------------------------------------ status of one person
YOU_NOT_JOINED = "You are not in this program. `/mentoring join` opts you in."
YOU = "You: {role}, {state}. Knows: {knows}. Wants to learn: {wants}. Time zone: {zone}."
YOUR_BIO = "Your bio: {bio}"
YOUR_BLOCKS = "You asked not to be matched with: {users}."
STATES = {
    "active": "active",
    "snoozed": "snoozed until {until}",
    "paused": "paused until you run `/mentoring resume`",
}
NOTHING = "nothing yet"
JOIN_BUTTONS = (("Join", "/mentoring join"),)
MEMBER_BUTTONS = (("Snooze 2 weeks", "/mentoring snooze until:2w"), ("Leave", "/mentoring leave"))

# ------------------------------------------------------------------ the command's declaration
DESCRIPTIONS = {
    "action": "status (default), program, join, profile, leave, snooze, resume, forget-me, block, unblock, checkin",
    "step": "program: create, pause, resume, end, status, report; checkin: met, not-yet, no",
    "kind": "program create: pairs (peer groups, default) or mentor (mentors x mentees)",
    "size": "program create: people per peer group, 2 to 4 (default 2)",
    "every": "program create: a round every 1, 2 (default) or 4 weeks",
    "day": "program create: the day of a round, mon to sun (default mon)",
    "time": "program create: the time of a round, HH:MM (default 10:00)",
    "timezone": "IANA time zone, e.g. Europe/Berlin (default: the workspace's or UTC)",
    "repeat": "program create: rounds before two people may meet again, 1 to 26 (default 6)",
    "checkin": "program create: days after an intro to ask how it went, 1 to 28 (default 7)",
    "csv": "program report: as CSV",
    "role": "join: mentor, mentee or peer (default: peer, or mentee in a mentor program)",
    "knows": "join: what you know, e.g. fhir, sql, hipaa (up to 10, comma-separated)",
    "wants": "join: what you want to learn, e.g. dicom, cloud (up to 10, comma-separated)",
    "bio": "join: a short bio, at most 200 characters",
    "capacity": "join as a mentor: mentees per round, 1 to 5 (default 1)",
    "until": "snooze: until YYYY-MM-DD, or 1w, 2w, 4w (default: until you resume)",
    "user": "block, unblock: the person, e.g. @name",
    "group": "checkin: the group number from the check-in message",
}
EXAMPLES = (
    "/mentoring",
    "/mentoring join knows:fhir,sql wants:dicom",
    "/mentoring snooze until:2w",
    "/mentoring program create kind:pairs every:2 day:tue time:10:00 timezone:Europe/Berlin",
)
USAGE = {
    "program": "kind:pairs",
    "join": "knows:fhir",
    "profile": "wants:dicom",
    "snooze": "until:2w",
    "block": "user:@name",
    "unblock": "user:@name",
    "checkin": "group:42",
}
"""An option each action takes, for a refusal that shows how to name one."""
STORED = {
    "platform": "The platform's name",
    "tenant": "This workspace's id",
    "channel": "The channel id",
    "user_id": "Your user id",
    "created_by": "Your user id",
    "blocked": "That user id",
    "timezone": "The time zone",
    "knows": "What you know",
    "wants": "What you want to learn",
    "bio": "Your bio",
}
"""What each kept text column holds, for a refusal naming it."""
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PLATFORMS = {"slack": "Slack", "discord": "Discord", "console": "the console"}
CSV_MAX = 2300
"""Characters of CSV a report shows: below a section's cap, so the cut is ours and marked."""


def about(settings: Settings) -> str:
    """A program's kind and cadence: "Peer groups of 2, every 2 weeks on Monday at 10:00 UTC"."""
    kind = KIND_PAIRS.format(size=settings.group_size) if settings.kind == "pairs" else KIND_MENTOR
    weeks = "week" if settings.every_weeks == 1 else f"{settings.every_weeks} weeks"
    clock = f"{settings.hour:02d}:{settings.minute:02d}"
    return f"{kind}, " + CADENCE.format(weeks=weeks, day=DAYS[settings.weekday], time=clock, zone=settings.timezone)


def person(user: str) -> str:
    """A user id as plain text (never a mention); someone erased by forget-me as just that."""
    return "someone who left" if user.startswith("forgotten") else one_line(user, 64)


def csv_lines(rows: list[tuple[str, str, str]]) -> str:
    """The rows as CSV, one code span a line, cut (and marked) before a section's cap."""
    lines: list[str] = []
    for row in [("metric", "key", "value"), *rows]:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(row)
        line = f"`{buffer.getvalue()}`"
        if sum(len(x) + 1 for x in lines) + len(line) > CSV_MAX:
            lines.append(f"`{CSV_CUT}`")
            break
        lines.append(line)
    return "\n".join(lines)


PROFILE_FORM = (
    "Your profile in the program of {channel}. Change any part with "
    "`/mentoring profile knows:... wants:... timezone:... bio:...`."
)
