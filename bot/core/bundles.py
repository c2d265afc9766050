"""What a scheduled subscription's run would post: the listing's threads that pass its filters
and were not posted in its channel lately, the top few digested, in one bundle. Shared by a
scheduled run (scheduler.py) and a preview of the next run (`preview #N`), which shows the
bundle to the asker only and changes nothing: no thread is marked as posted, the next run is
not moved."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.chat import Bundle, Delivery
from bot.core.answers import UserFacing
from bot.core.delivery import deliver, target_for, tell, typed
from bot.jobs import PreviewJob
from bot.ports import ListingSort, SourceError, ThreadRef, TopPeriod
from bot.specs import ScheduleSpec, names, spec_of
from bot.storage import JobRow, SubscriptionRow
from digest.i18n import EN, N_, Words, words
from digest.model import Post
from digest.report import Depth

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)

_WHEN = {"hour": N_("in the last hour"), "day": N_("today"), "week": N_("this week")}


async def listed(core: Core, spec: ScheduleSpec) -> list[Post]:
    """The subscription's listing: the top threads of its subreddits over its period."""
    return await core.source.listing(
        "+".join(spec.subreddits),
        ListingSort.TOP,
        period=TopPeriod(spec.timing().period()),
        limit=100,
    )


async def build_bundle(
    core: Core, sub: SubscriptionRow, spec: ScheduleSpec, settings: dict[str, str],
    posts: Sequence[Post], *, note: str | None, nsfw_ok: bool | None = None,
) -> Bundle:  # fmt: skip
    """The bundle a run of `sub` posts, from its listing: the threads that pass the filters and
    were not posted in its channel in the last days, the top few, each digested (brief, counted
    against the server's spend cap as any digest); a thread that cannot be digested is left
    out, as is an NSFW one unless `nsfw_ok` (by default: the subscription's channel is marked
    NSFW). An empty bundle says why (`empty_text`)."""
    recent = await core.storage.recently_posted(
        sub.platform, sub.channel_id, core.config.recent_days
    )
    passed = [p for p in posts if spec.passes(p)]
    chosen = [p for p in passed if p.id not in recent][: spec.top]
    reports = []
    for post in chosen:
        try:
            report, _ = await core.report_for(
                sub.platform,
                sub.server_id,
                ThreadRef(post.id),
                Depth.BRIEF,
                settings,
                nsfw_ok=spec.channel_nsfw if nsfw_ok is None else nsfw_ok,
                channel_id=sub.channel_id,
                subscription_id=sub.id,
            )
            reports.append(report)
        except SourceError as exc:  # one thread gone must not sink the whole digest
            log.info("scheduled #%s: skipping %s: %s", sub.id, post.id, exc)
        except UserFacing:
            continue
    subs = names(spec)
    w = words(settings.get("language"))
    when = w.tr(_WHEN[spec.timing().period()])
    return Bundle(
        title=w.tr("Top of {subs} {when}", subs=subs, when=when),
        reports=tuple(reports),
        note=note,
        empty_text=why_empty(subs, when, len(posts), len(passed), len(chosen),
                             core.config.recent_days, w),
        lang=w.lang,
    )  # fmt: skip


def why_empty(
    subs: str, when: str, listed: int, passed: int, chosen: int, days: int, w: Words = EN
) -> str:
    """Why a run has nothing to post, in the words of what happened (`when` in `w`'s)."""
    if not listed:
        return w.tr("Nothing new in {subs} {when}: its listing had no threads.", subs=subs,
                    when=when)  # fmt: skip
    if not passed:
        return w.ntr("Nothing new in {subs} passed the filters {when} ({n} thread looked at).",
                     "Nothing new in {subs} passed the filters {when} ({n} threads looked at).",
                     listed, subs=subs, when=when)  # fmt: skip
    if not chosen:
        return w.ntr(
            "Nothing new in {subs} {when}: the {n} thread that pass the filters was already "
            "posted here in the last {days} days.",
            "Nothing new in {subs} {when}: the {n} threads that pass the filters were already "
            "posted here in the last {days} days.",
            passed, subs=subs, when=when, days=days,
        )  # fmt: skip
    return w.ntr("None of the {n} thread chosen in {subs} {when} could be digested.",
                 "None of the {n} threads chosen in {subs} {when} could be digested.",
                 chosen, subs=subs, when=when)  # fmt: skip


async def run_preview(core: Core, row: JobRow, job: PreviewJob) -> None:
    """`preview #N`: the bundle the subscription's next run would post, now, to the asker
    only. Nothing is recorded as posted (a later run posts the same threads), the next run is
    not moved and the subscription's run state (Reddit problems, failures) is left alone.
    Reddit's errors propagate: retried when passing, else told to the asker as any job's."""
    sub = await core.storage.subscription(job.subscription_id)
    spec = spec_of(sub) if sub is not None else None
    if sub is None or not isinstance(spec, ScheduleSpec):  # unsubscribed meanwhile
        await tell(core, job.platform, target_for(job),
                   f"There is no subscription #{job.subscription_id} any more to preview.")  # fmt: skip
        await core.storage.finish_job(row.key, [], post_id=None, token=row.claim_token)
        return
    settings = await core.server_settings(sub.platform, sub.server_id)
    posts = await listed(core, spec)
    next_run = (
        f"the next run ({sub.next_run_at:%Y-%m-%d %H:%M} UTC)"
        if sub.next_run_at and not sub.paused
        else "the next run"
    )
    note = (
        f"Preview of #{sub.id}, only you see it: {next_run} would post this; "
        "nothing here is marked as posted."
    )
    if sub.paused:
        why = f" ({sub.paused_reason})" if sub.paused_reason else ""
        resume = typed(core, sub.platform, f"resume {sub.id}")
        note += f" #{sub.id} is paused{why}: it will not run until {resume}."
    bundle = await build_bundle(core, sub, spec, settings, posts, note=note, nsfw_ok=job.nsfw_ok)
    # No thread_posts: a preview leaves what the channel saw untouched.
    await deliver(core, row, job, Delivery(bundle=bundle), post_id=None, focus=None,
                  thread_posts=[])  # fmt: skip
