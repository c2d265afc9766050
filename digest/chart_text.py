"""Every word the activity-and-mood chart shows or says (titles, axis labels, the alt text, the
note when a thread is too small), in one place: `chart_text(key, **values)`.

English only for now; a translation looks the key up in its own catalogue and falls back to
these templates (the values are the same for every language).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

CHART_TEXT: Final[Mapping[str, str]] = {
    # The note a deep report carries when its thread is too small to chart.
    "no_chart": "No chart: too few comments to chart.",
    # Titles and axis labels.
    "title": "{place}: {comments} comments, activity and mood",
    "activity_title": "Comments per hour",
    "activity_title_bins": "Comments per {hours} hours",
    "activity_axis": "comments",
    "hours_axis": "hours since the post",
    "post_marker": "post",
    "later": "+{later} later comments not shown",
    "mood_title": "Mood over time (score-weighted)",
    "mood_positive": "positive",
    "mood_negative": "negative",
    "mood_neutral": "neutral",
    "branches_title": "Largest branches",
    "branches_subtitle": "share of all comments, by who started each",
    "branch_label": "{who} ({comments})",
    "branches_rest": "all other branches",
    # The alt text: one sentence, in parts.
    "alt_start": "Chart of {comments} comments in {place} over {hours} hours.",
    "alt_peak": (
        "Activity peaked {hour} to {end} hours after the post, with {count} comments in that hour."
    ),
    "alt_peak_bins": (
        "Activity peaked {hour} to {end} hours after the post, with {count} comments in those "
        "{hours} hours."
    ),
    "alt_mood_turn": (
        "The score-weighted mood went from {start_label} ({start}) to {end_label} ({end}), "
        "{end_label} from hour {turn} on."
    ),
    "alt_mood_steady": "The score-weighted mood stayed {label} ({start} to {end}).",
    "alt_mood_none": "No mood could be measured.",
    "alt_branches": "The top {n} branches hold {share} of the comments.",
    "positive": "positive",
    "negative": "negative",
    "neutral": "neutral",
}


def chart_text(key: str, **values: object) -> str:
    """The chart's words for `key`, filled with `values`."""
    return CHART_TEXT[key].format(**values)
