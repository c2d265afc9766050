"""Every word the activity-and-mood chart shows or says (titles, axis labels, the alt text, the
note when a thread is too small), in one place: `chart_text(key, **values)`.

Each template is a msgid of the message catalogues (digest/i18n.py): `chart_text(key, lang)`
is its translation, English where a catalogue lacks it (the values are the same in every
language).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from digest.i18n import CHAT, N_, words

CHART_TEXT: Final[Mapping[str, str]] = {
    # The note a deep report carries when its thread is too small to chart.
    "no_chart": N_("No chart: too few comments to chart."),
    # Titles and axis labels.
    "title": N_("{place}: {comments} comments, activity and mood"),
    "activity_title": N_("Comments per hour"),
    "activity_title_bins": N_("Comments per {hours} hours"),
    "activity_axis": N_("comments"),
    "hours_axis": N_("hours since the post"),
    "post_marker": N_("post"),
    "later": N_("+{later} later comments not shown"),
    "mood_title": N_("Mood over time (score-weighted)"),
    "mood_positive": N_("positive"),
    "mood_negative": N_("negative"),
    "mood_neutral": N_("neutral"),
    "branches_title": N_("Largest branches"),
    "branches_subtitle": N_("share of all comments, by who started each"),
    "branch_label": N_("{who} ({comments})"),
    "branches_rest": N_("all other branches"),
    # The alt text: one sentence, in parts.
    "alt_start": N_("Chart of {comments} comments in {place} over {hours} hours."),
    "alt_peak": N_(
        "Activity peaked {hour} to {end} hours after the post, with {count} comments in that hour."
    ),
    "alt_peak_bins": N_(
        "Activity peaked {hour} to {end} hours after the post, with {count} comments in those "
        "{hours} hours."
    ),
    "alt_mood_turn": N_(
        "The score-weighted mood went from {start_label} ({start}) to {end_label} ({end}), "
        "{end_label} from hour {turn} on."
    ),
    "alt_mood_steady": N_("The score-weighted mood stayed {label} ({start} to {end})."),
    "alt_mood_none": N_("No mood could be measured."),
    "alt_branches": N_("The top {n} branches hold {share} of the comments."),
    "positive": N_("positive"),
    "negative": N_("negative"),
    "neutral": N_("neutral"),
}


def chart_text(key: str, lang: str = "en", context: str = "", /, **values: object) -> str:
    """The chart's words for `key` in `lang`, filled with `values`; of a chat thread's messages
    in `context` "chat" (English: `Origin.say`'s words, as the report's)."""
    text = words(lang, context).tr(CHART_TEXT[key], **values)
    if context == CHAT and words(lang).english:
        from digest.source import chat  # it builds on digest.i18n as this module does

        text = chat("console", "").say(text)
    return text
