"""Posting to Slack (the ChatPort's `post`): messages paced per channel, each part of a keyed
post marked in its metadata (so `find_posted` can find it after a crash), answers to one person
through the request's response_url or chat.postEphemeral, and refusals as one sentence."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack_chat.config import PLATFORM
from adapters.slack_chat.connection import SlackConnection
from adapters.slack_chat.errors import (
    _BUG_ERRORS,
    _PERMANENT_POST_ERRORS,
    SlackPostError,
    SlackPostRefused,
    slack_error,
)
from adapters.slack_chat.layout import SlackMessage, delivery_messages, text_messages
from bot.chat import Attachment, Delivery, EphemeralTarget, MessageRef, Target, ThreadTarget
from bot.multipart import MultipartPosts
from bot.ttl_map import TTLMap

log = logging.getLogger(__name__)

T = TypeVar("T")

METADATA_EVENT: Final = "redigest_post"
RESPONSE_URL_SECONDS: Final = 29 * 60  # Slack accepts up to 5 replies within 30 minutes
RESPONSE_URL_USES: Final = 5
WORKING_EMOJI: Final = "hourglass_flowing_sand"
MAX_ALT_TEXT: Final = 1000  # files.getUploadURLExternal's alt_txt, in characters  # on a message while its deep analysis is made


@dataclass
class _ResponseUrl:
    url: str
    uses: int = 0


def _usable_url(url: Any) -> str | None:
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    return url


class SlackPoster:
    """Everything that leaves the adapter as a Slack message."""

    def __init__(self, conn: SlackConnection, multipart: MultipartPosts) -> None:
        self.conn = conn
        self.config = conn.config
        self.multipart = multipart
        self._channel_locks: dict[str, asyncio.Lock] = {}
        self._last_post: dict[str, float] = {}
        self._response_urls: TTLMap[str, _ResponseUrl] = TTLMap(RESPONSE_URL_SECONDS)
        self._may_react = True  # False once Slack said the app lacks reactions:write

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        # A message only one person sees (a preview) gets no "Deep analysis" buttons: no
        # thread can open under it.
        messages = delivery_messages(delivery, pickable=not isinstance(target, EphemeralTarget))
        if isinstance(target, EphemeralTarget):
            return await self._post_ephemeral(target, messages)
        if isinstance(target, ThreadTarget):
            channel = target.parent.channel_id
            thread_ts: str | None = target.parent.thread_id or target.parent.message_id
        else:
            channel, thread_ts = target.channel_id, None

        async def send_one(part: int, message: SlackMessage) -> MessageRef:
            metadata = None
            if idempotency_key is not None:
                payload = {"key": idempotency_key, "part": part, "parts": len(messages)}
                metadata = {"event_type": METADATA_EVENT, "event_payload": payload}
            response = await self._paced(
                channel, functools.partial(self._send, channel, message, thread_ts, metadata)
            )
            ts = str(response["ts"])
            return MessageRef(PLATFORM, str(response.get("channel") or channel), ts, thread_ts)

        # A part posted before a crash (find_posted saw it) is not posted again.
        refs = await self.multipart.send(idempotency_key or None, messages, send_one)
        if idempotency_key is not None:
            self.multipart.remember(idempotency_key, refs)
        if delivery.files and refs:
            # After every part: a post cut short before this point has uploaded nothing, and a
            # whole one is found by find_posted and not posted again, so no file goes twice.
            await self._upload(delivery.files, refs[0].channel_id, thread_ts or refs[0].message_id)
        return refs

    async def _upload(self, files: Sequence[Attachment], channel: str, thread_ts: str) -> None:
        """Each file into the thread of the post (files_upload_v2: the upload URL, the bytes,
        files.completeUploadExternal). The text is already out: a failure is logged, not
        raised (raising would only have the post looked for and found again)."""
        for f in files:
            call = functools.partial(
                self.conn.web.files_upload_v2, channel=channel, thread_ts=thread_ts,
                file=f.data, filename=f.name, title=f.title or f.name,
                alt_txt=f.alt_text[:MAX_ALT_TEXT] or None,
            )  # fmt: skip
            try:
                await self._paced(channel, call)
            except SlackApiError as exc:
                error = slack_error(exc)
                hint = (
                    ": add the files:write scope (slack-manifest.yml) and reinstall the app"
                    if error == "missing_scope"
                    else ""
                )
                log.warning("Slack: cannot upload %s into %s/%s (%s)%s",
                            f.name, channel, thread_ts, error, hint)  # fmt: skip
            except Exception:
                log.exception("Slack: cannot upload %s into %s/%s", f.name, channel, thread_ts)

    async def _send(
        self,
        channel: str,
        message: SlackMessage,
        thread_ts: str | None,
        metadata: dict[str, Any] | None,
    ) -> Any:
        try:
            return await self.conn.web.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=list(message.blocks) if message.blocks else None,
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            self._raise_refusal(exc, channel)

    def _raise_refusal(self, exc: SlackApiError, channel: str) -> NoReturn:
        """A refusal retrying cannot fix as one sentence for the user; anything else as it is
        (rate limits after retries, outages: the core retries later)."""
        error = slack_error(exc)
        message = _PERMANENT_POST_ERRORS.get(error)
        if message is None:
            raise exc
        if error in _BUG_ERRORS:
            log.error("Slack rejected a post to %s: %s %s", channel, error,
                      exc.response.get("response_metadata") or exc.response.get("errors"))  # fmt: skip
            raise SlackPostError(message, error) from exc
        raise SlackPostRefused(message, error) from exc

    async def _paced(self, channel: str, call: Callable[[], Awaitable[T]]) -> T:
        """Slack allows about one message per second per channel: keep to it."""
        loop = asyncio.get_running_loop()
        lock = self._channel_locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._last_post.get(channel, -1e9) + self.config.post_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await call()
            finally:
                self._last_post[channel] = loop.time()
                if len(self._last_post) > 2048:
                    self._forget_idle_channels(loop.time())

    def _forget_idle_channels(self, now: float) -> None:
        for channel, at in list(self._last_post.items()):
            lock = self._channel_locks.get(channel)
            if now - at > self.config.post_interval and (lock is None or not lock.locked()):
                self._last_post.pop(channel, None)
                self._channel_locks.pop(channel, None)

    async def _post_ephemeral(
        self, target: EphemeralTarget, messages: Sequence[SlackMessage]
    ) -> list[MessageRef]:
        refs: list[MessageRef] = []
        for message in messages:
            if await self._respond(target.reply_token, message):
                refs.append(MessageRef(PLATFORM, target.channel_id, "ephemeral"))
                continue
            try:
                response = await self.conn.web.chat_postEphemeral(
                    channel=target.channel_id,
                    user=target.user_id,
                    text=message.text,
                    blocks=list(message.blocks) if message.blocks else None,
                )
            except SlackApiError as exc:
                self._raise_refusal(exc, target.channel_id)
            refs.append(MessageRef(PLATFORM, target.channel_id, str(response.get("message_ts"))))
        return refs

    # ------------------------------------------------------------------ working on it

    @asynccontextmanager
    async def working(self, target: Target) -> AsyncIterator[None]:
        """⏳ on the message whose analysis is being made (a reply in its thread is coming),
        removed when done. Slack shows no typing indicator for an app, so a post to a channel
        shows nothing. Errors other than a missing scope propagate (the core logs them)."""
        if not isinstance(target, ThreadTarget) or not self._may_react:
            yield
            return
        channel, ts = target.parent.channel_id, target.parent.message_id
        reacted = await self._react(self.conn.web.reactions_add, channel, ts, "already_reacted")
        try:
            yield
        finally:
            if reacted:
                await self._react(self.conn.web.reactions_remove, channel, ts, "no_reaction")

    async def _react(
        self, call: Callable[..., Awaitable[Any]], channel: str, ts: str, harmless: str
    ) -> bool:
        try:
            await call(channel=channel, timestamp=ts, name=WORKING_EMOJI)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error == harmless:  # already there, or already gone: as wanted
                return True
            if error == "missing_scope":
                self._may_react = False
                log.warning(
                    "Slack: the app may not add reactions, so deep analyses show no %s while "
                    "they are made: add the reactions:write scope (slack-manifest.yml) and "
                    "reinstall the app",
                    WORKING_EMOJI,
                )
                return False
            raise
        return True

    # ------------------------------------------------------------------ answers to one person

    def remember_response_url(self, token: str | None, url: Any) -> None:
        """Only requests whose answer comes late are remembered (for `post` to find)."""
        usable = _usable_url(url)
        if token and usable is not None:
            self._response_urls.put(token, _ResponseUrl(usable))

    async def _respond(self, token: str | None, message: SlackMessage) -> bool:
        """A late answer through the request's response_url; False when there is none (or it
        failed)."""
        entry = self._response_urls.get(token) if token else None
        if entry is None or entry.uses >= RESPONSE_URL_USES:
            return False
        entry.uses += 1
        return await self._send_response(entry.url, message)

    async def _send_response(self, url: str, message: SlackMessage) -> bool:
        try:
            client = AsyncWebhookClient(url, session=self.conn.session, timeout=10)
            response = await client.send(
                text=message.text,
                blocks=list(message.blocks) if message.blocks else None,
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception as exc:
            log.info(
                "Slack: response_url failed (%s); using chat.postEphemeral", type(exc).__name__
            )
            return False
        if response.status_code != 200:
            log.info("Slack: response_url answered %s; using chat.postEphemeral",
                     response.status_code)  # fmt: skip
            return False
        return True

    async def reply_now(
        self, channel: str, user: str, response_url: Any, text: str, channels: Sequence[str] = ()
    ) -> None:
        """An immediate answer to one person: through the request's own response_url, else
        chat.postEphemeral. Failures are logged, never raised. `channels`: see text_messages."""
        try:
            url = _usable_url(response_url)
            for message in text_messages(text, channels):
                if url is None or not await self._send_response(url, message):
                    await self._post_ephemeral(EphemeralTarget(channel, user), [message])
        except Exception:
            log.exception("Slack: could not tell %s in %s: %s", user, channel, text)
