"""One thread's digest: the analysis (one per thread, depth, content and analyser, shared by
concurrent jobs, cached, its cost recorded) and the jobs that post it (a digest asked for, a
flag's deep analysis, a watched thread that crossed its threshold)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.chat import Attachment, Delivery, EphemeralTarget, Target, working
from bot.chat_thread_source import (
    chat_ref_of,
    history_target,
    is_chat_post_id,
    may_post_in_thread,
    read_chat_thread,
    thread_from_history,
)
from bot.chat_threads import ChatThreadRef
from bot.core.answers import UserFacing
from bot.core.delivery import deliver, target_for, tell
from bot.flags import offered_emoji
from bot.jobs import DigestJob, FlagJob, SavedFile, WatchJob
from bot.ports import ThreadRef
from bot.storage import JobRow
from bot.thread_ref import ShareLink
from digest import codec, cpu
from digest.chart_data import alt_text
from digest.chart_text import chart_text
from digest.i18n import words
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.report import Depth, Report

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)


def fingerprint(thread: Thread) -> str:
    """What the text of a thread is, not how it is voted: a new comment changes it, a vote not."""
    h = hashlib.sha256()
    h.update(thread.post.id.encode())
    h.update(thread.post.body.encode())
    for c in thread.comments:
        h.update(c.id.encode())
    return h.hexdigest()[:16]


Where = tuple[str, str, str | None, int | None]  # platform, server, channel, subscription


class Spend:
    """What one analysis reserved of its server's spend (None: nothing), settled once: with the
    actual figures when it was paid for, or given back."""

    def __init__(self, core: Core, reserved: int | None) -> None:
        self.core = core
        self.reserved = reserved

    async def record(
        self, where: Where, model: str | None, input_tokens: int, output_tokens: int, cost: float
    ) -> None:
        storage = self.core.storage
        reserved, self.reserved = self.reserved, None
        if reserved is not None:
            await storage.settle_spend(reserved, model, input_tokens, output_tokens, cost)
            return
        platform, server_id, channel_id, subscription_id = where
        await storage.record_usage(
            platform, server_id, model, input_tokens, output_tokens, cost,
            channel_id=channel_id, subscription_id=subscription_id,
        )  # fmt: skip

    async def release(self) -> None:
        reserved, self.reserved = self.reserved, None
        if reserved is not None:
            await self.core.storage.release_spend(reserved)


class Digests:
    def __init__(self, core: Core) -> None:
        self.core = core
        # Analyses under way, by cache key: a second job for the same thread waits for the first.
        self.analysing: dict[str, asyncio.Future[tuple[Report, str]]] = {}

    async def report_for(
        self, platform: str, server_id: str, ref: ThreadRef, depth: Depth, settings: dict[str, str],
        *, nsfw_ok: bool = True, thread: Thread | None = None, channel_id: str | None = None,
        subscription_id: int | None = None,
    ) -> tuple[Report, str]:  # fmt: skip
        """One analysis per (thread, depth, content, analyser), reused across channels; returns
        the report and its serialised form (made once, off the event loop). `thread` is given
        when it was read from a file rather than fetched. What an analysis costs is counted for
        the channel (and the subscription, for a scheduled or watch run) it was made for."""
        core = self.core
        if thread is None:
            thread = await core.source.fetch_thread(ref, depth)
        if thread.post.nsfw and not nsfw_ok:
            raise UserFacing(
                "That thread is marked NSFW; digests of it are only posted in NSFW channels."
            )
        where = (platform, server_id, channel_id, subscription_id)
        lang = settings.get("language", "en")
        engine, note, reserved = await self._pick(settings, depth, where, lang)
        key = f"{thread.post.id}:{ref.comment_id or ''}:{depth.value}:{fingerprint(thread)}:{engine.analyzer_name}"
        if lang != "en":  # a report in another language is another analysis
            key += f":{lang}"
        pending = self.analysing.get(key)
        spend = Spend(core, reserved)
        if pending is not None:
            await spend.release()  # another job pays for this analysis
            report, text = await asyncio.shield(pending)
        else:
            future: asyncio.Future[tuple[Report, str]] = asyncio.get_running_loop().create_future()
            self.analysing[key] = future
            try:
                report, text = await self._analyse(key, engine, thread, depth, where, spend, lang)
            except BaseException as exc:
                future.set_exception(exc)
                future.exception()  # waiters re-raise it; nobody else must
                raise
            finally:
                self.analysing.pop(key, None)
                await spend.release()  # none paid for (cached, or failed): nothing reserved
            future.set_result((report, text))
        if note:
            report = replace(report, notes=(*report.notes, note))
            text = await cpu.run(codec.dumps, report)
        return report, text

    async def _pick(
        self, settings: dict[str, str], depth: Depth, where: Where, lang: str
    ) -> tuple[DigestEngine, str | None, int | None]:
        """The analyser (with a note when it is not the one asked for) and, for one that costs,
        the spend it reserved: checked against the server's cap with the analyses under way in
        every process counted (bot/storage/spend.py)."""
        core = self.core
        platform, server_id, channel_id, subscription_id = where
        cap = float(settings["spend-cap"])
        spent = await core.storage.spent_today(platform, server_id)
        engine, note = core.engines.pick(
            settings["analyzer"], spend_ok=cap > 0 and spent < cap, depth=depth, w=words(lang)
        )
        estimate = engine.cost_ceiling(depth)
        if estimate <= 0:
            return engine, note, None
        reserved = await core.storage.reserve_spend(
            platform, server_id, cap, estimate,
            channel_id=channel_id, subscription_id=subscription_id,
        )  # fmt: skip
        if reserved is None:  # analyses under way elsewhere reached the cap meanwhile
            engine, note = core.engines.pick(
                settings["analyzer"], spend_ok=False, depth=depth, w=words(lang)
            )
        return engine, note, reserved

    async def _analyse(
        self, key: str, engine: DigestEngine, thread: Thread, depth: Depth, where: Where,
        spend: Spend, lang: str = "en",
    ) -> tuple[Report, str]:  # fmt: skip
        storage = self.core.storage
        cached = await storage.cached_report(key, self.core.config.report_cache_ttl)
        if cached is not None:
            return await cpu.run(codec.loads, Report, cached), cached
        report = await engine.digest(thread, depth, lang=lang)
        text = await cpu.run(codec.dumps, report)
        await storage.cache_report(key, text)
        u = report.usage
        if u.input_tokens or u.cost_usd:
            await spend.record(where, u.model, u.input_tokens, u.output_tokens, u.cost_usd)
        return report, text

    async def chat_thread(self, asked_in: str, ref: ChatThreadRef) -> tuple[Thread, Target]:
        """A chat's own thread, read through its adapter, for the asker in channel `asked_in`,
        and where its digest goes (in that thread); refused (UserFacing, quoting nothing of it)
        when it may not go there for them."""
        history = await read_chat_thread(self.core.chats, ref, limit=self.core.config.chat_limit)
        refusal = may_post_in_thread(history, asked_in)
        if refusal is not None:
            raise UserFacing(refusal)
        return await cpu.run(thread_from_history, history), history_target(history)

    async def run(self, row: JobRow, job: DigestJob | FlagJob | WatchJob) -> None:
        """A digest asked for, a flag's deep analysis or a watched thread's brief: analysed
        (once: a report saved before a crash is reused) and posted."""
        core = self.core
        sub_id: int | None = None
        match job:
            case DigestJob():
                depth, header, channel_id = job.depth, None, job.channel_id
            case FlagJob():
                depth, header, channel_id = Depth.DEEP, None, job.message.channel_id
            case WatchJob():
                depth, header, channel_id = Depth.BRIEF, job.header, job.channel_id
                sub_id = job.subscription_id
        settings = await core.server_settings(job.platform, job.server_id)
        report: Report
        target: Target | None = None  # where a chat thread's digest goes, once it was read
        if row.report is not None:  # analysed before a crash: not redone
            report = await cpu.run(codec.loads, Report, row.report)
        else:
            thread: Thread | None = None
            match job.thread:
                case ThreadRef(post_id=post) if is_chat_post_id(post):  # 🔍 on a chat digest
                    user = job.user_id if isinstance(job, FlagJob) else ""
                    chat_ref = chat_ref_of(post, job.server_id, user)
                    thread, _ = await self.chat_thread(channel_id, chat_ref)
                    ref = job.thread  # (the deep analysis goes under the flagged digest)
                case SavedFile(path):  # typed at the terminal (see Requests), never a chat's
                    if core.files is None:
                        raise UserFacing("Saved thread files can only be read at the terminal.")
                    thread = await core.files.read(path)
                    ref = ThreadRef(thread.post.id)
                case ShareLink(url):  # only Reddit knows where it leads
                    ref = await core.source.resolve(url)
                case ThreadRef():
                    ref = job.thread
                case ChatThreadRef():  # a chat's own thread, read by its adapter
                    thread, target = await self.chat_thread(channel_id, job.thread)
                    ref = ThreadRef(thread.post.id)
            # A deep analysis takes a while: the platform shows that it is on its way.
            chat = core.chats.get(job.platform) if depth is Depth.DEEP else None
            async with working(chat, target_for(job)):
                report, text = await core.report_for(
                    job.platform, job.server_id, ref, depth, settings, nsfw_ok=job.nsfw_ok,
                    thread=thread, channel_id=channel_id, subscription_id=sub_id,
                )  # fmt: skip
            await core.storage.save_job_report(row.key, text, row.claim_token)
        post_id = report.thread.id
        # Under a brief digest in a channel, the server's own flag: one click asks for depth.
        offer = not isinstance(job, FlagJob) and report.depth is Depth.BRIEF
        files: tuple[Attachment, ...] = ()
        if report.depth is Depth.DEEP and not (row.post_attempted and row.result):
            report, files = await self.chart(report)
        delivery = Delivery(
            report=report,
            header=header,
            offer_emoji=offered_emoji(settings["flag-emoji"]) if offer else None,
            files=files,
        )
        await deliver(core, row, job, delivery, post_id=post_id, focus=report.focus_comment_id,
                      thread_posts=[post_id], target=target)  # fmt: skip
        asked = job if isinstance(job, DigestJob) else None
        if (
            asked is not None
            and isinstance(asked.thread, ChatThreadRef)
            and (asked.thread.channel_id != asked.channel_id)
        ):
            # Asked elsewhere: the asker alone is told where it went (a link, none of its text).
            await tell(core, asked.platform,
                       EphemeralTarget(asked.channel_id, asked.user_id, asked.reply_token),
                       f"Posted the digest in that thread: {report.thread.permalink}")  # fmt: skip

    async def chart(self, report: Report) -> tuple[Report, tuple[Attachment, ...]]:
        """A deep report's chart (drawn off the event loop, by the offline engine's worker
        process when there is one), or the report with a note saying why there is none. A
        chart that cannot be drawn is logged and left out: the report goes without it."""
        data = report.chart
        if data is None:  # cached before reports carried their chart
            return report, ()
        if data.too_small:
            note = chart_text("no_chart", report.lang, data.context)
            return replace(report, notes=(*report.notes, note)), ()
        try:
            png = await self.core.engines.by_name["offline"].chart_png(data)
        except Exception:
            log.exception("could not draw the chart of thread %s", report.thread.id)
            return report, ()
        safe = "".join(ch for ch in report.thread.id if ch.isascii() and ch.isalnum())[:40]
        name = f"redigest-{safe or 'thread'}-{hashlib.sha256(png).hexdigest()[:8]}.png"
        title = chart_text("title", report.lang, data.context, place=data.place,
                           comments=f"{data.comments:,}")  # fmt: skip
        alt = alt_text(data)
        if report.lang == "en":  # an English chart of a chat thread is of messages
            title, alt = report.thread.origin.say(title), report.thread.origin.say(alt)
        return report, (Attachment(name, png, alt, title),)
