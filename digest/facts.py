"""The computed lines of a report: engagement insights and the observations anyone could make
from the thread's counts (an analyser adds its own), in the report's language."""

from __future__ import annotations

from digest.i18n import CHAT, N_, Words
from digest.model import ContentState, Thread
from digest.select import Coverage
from digest.stats import ThreadStats


def _comments(w: Words, n: int) -> str:
    return w.ntr("{n} comment", "{n} comments", n)


def engagement(thread: Thread, stats: ThreadStats, w: Words) -> tuple[str, ...]:
    post, o = thread.post, thread.origin
    lines = []
    ratio = (
        w.tr(", {pct} upvoted", pct=f"{post.upvote_ratio:.0%}")
        if post.upvote_ratio is not None
        else ""
    )
    comments = _comments(w, post.num_comments)
    if w.context == CHAT:  # a chat thread's first message has replies (English: Origin.say)
        comments = w.ntr("{n} reply", "{n} replies", post.num_comments)
    if o.is_reddit:
        lines.append(w.tr("The post has a score of {score}{ratio}, and {comments}.",
                          score=f"{post.score:,}", ratio=ratio, comments=comments))  # fmt: skip
    else:
        score = o.post_score(post.score, w)
        lines.append(
            w.tr("The post has {score} and {comments}.", score=score, comments=comments)
            if score
            else w.tr("The post has {comments}.", comments=comments)
        )
    if stats.comments_present:
        fetched = stats.comments_present
        depth = (
            w.tr("no comment has a reply")
            if stats.max_depth <= 1
            else w.ntr("the deepest reply chain is {n} level",
                       "the deepest reply chain is {n} levels", stats.max_depth)
        )  # fmt: skip
        top = w.ntr("{n} is top-level", "{n} are top-level", stats.top_level_comments)
        replies = (
            w.tr("none are replies")
            if stats.replies == 0
            else w.ntr("{n} is a reply", "{n} are replies", stats.replies)
        )
        lines.append(
            w.ntr("Of the {n} comment fetched, {top_level} and {replies}; {depth}.",
                  "Of the {n} comments fetched, {top_level} and {replies}; {depth}.",
                  fetched, top_level=top, replies=replies, depth=depth)
        )  # fmt: skip
        share = f"{stats.top_decile_score_share:.0%}"
        if o.is_reddit:
            lines.append(
                w.ntr("{n} different account commented; the top 10% of comments hold {share} "
                      "of the comment upvotes (median comment score {median}).",
                      "{n} different accounts commented; the top 10% of comments hold {share} "
                      "of the comment upvotes (median comment score {median}).",
                      stats.unique_authors, share=share, median=f"{stats.median_score:g}")
            )  # fmt: skip
        elif o.scored and o.score_unit is not None:
            lines.append(
                w.ntr("{n} different person commented; the top 10% of comments hold {share} "
                      "of the {unit} on comments.",
                      "{n} different people commented; the top 10% of comments hold {share} "
                      "of the {unit} on comments.",
                      stats.unique_authors, share=share, unit=w.tr(o.score_unit[1]))
            )  # fmt: skip
        else:
            lines.append(w.ntr("{n} different person commented.",
                               "{n} different people commented.", stats.unique_authors))  # fmt: skip
    op = o.the_op(w)
    if post.author is None or stats.op_comments is None:
        lines.append(
            w.tr("The OP's account is deleted, so how many of the comments are theirs is unknown.")
            if o.is_reddit
            else w.tr("{op} is not known, so how many of the comments are theirs is unknown.",
                      op=op)
        )  # fmt: skip
    elif stats.op_comments:
        lines.append(w.ntr("{op}, {who}, commented {n} time.", "{op}, {who}, commented {n} times.",
                           stats.op_comments, op=op, who=o.who(post.author, w)))  # fmt: skip
    else:
        lines.append(w.tr("{op}, {who}, did not comment in what was fetched.",
                          op=op, who=o.who(post.author, w)))  # fmt: skip
    if stats.busiest_hour is not None and stats.first_comment_at and stats.last_comment_at:
        lines.append(
            w.ntr("The busiest hour began {hour} UTC ({n} comment); "
                  "comments run from {first} to {last} UTC.",
                  "The busiest hour began {hour} UTC ({n} comments); "
                  "comments run from {first} to {last} UTC.",
                  stats.busiest_hour_comments, hour=f"{stats.busiest_hour:%Y-%m-%d %H:00}",
                  first=f"{stats.first_comment_at:%Y-%m-%d %H:%M}",
                  last=f"{stats.last_comment_at:%Y-%m-%d %H:%M}")
        )  # fmt: skip
    return tuple(lines)


def observations(thread: Thread, stats: ThreadStats, cov: Coverage, w: Words) -> list[str]:
    post, o = thread.post, thread.origin
    out = []
    if post.state is ContentState.REMOVED:
        by = f" ({post.removed_by_category})" if post.removed_by_category else ""
        out.append(w.tr("The post was removed{by}; the comments are still there.", by=by))
    elif post.state is ContentState.DELETED:
        out.append(w.tr("The post was deleted by its author; the comments are still there."))
    if post.locked:
        out.append(w.tr("The thread is locked: no new comments can be added."))
    if post.nsfw:
        out.append(w.tr("The post is marked NSFW."))
    if post.spoiler:
        out.append(w.tr("The post is marked as a spoiler."))
    if post.crosspost_parent is not None:
        sub = post.crosspost_parent.subreddit
        out.append(w.tr("This is a crosspost from r/{sub}.", sub=sub))
    if stats.comments_present and stats.deleted_or_removed / stats.comments_present >= 0.1:
        out.append(
            w.ntr("Heavy deletions: {n} of {total} was deleted ({deleted}) or removed ({removed}).",
                  "Heavy deletions: {n} of {total} were deleted ({deleted}) or removed "
                  "({removed}).",
                  stats.deleted_or_removed, total=_comments(w, stats.comments_present),
                  deleted=f"{stats.deleted_comments:,}", removed=f"{stats.removed_comments:,}")
        )  # fmt: skip
    if post.upvote_ratio is not None and post.upvote_ratio < 0.7 and o.has_upvote_ratio:
        pct = f"{post.upvote_ratio:.0%}"
        out.append(w.tr("Divisive post: only {pct} of votes on it are upvotes.", pct=pct))
    if post.author is not None and stats.comments_present >= 10 and not stats.op_comments:
        out.append(w.tr("{op} did not take part in the discussion.", op=o.the_op(w)))
    if stats.controversial_ids and o.is_reddit:
        out.append(w.ntr("Reddit marks {n} comment as controversial.",
                         "Reddit marks {n} comments as controversial.",
                         len(stats.controversial_ids)))  # fmt: skip
    if stats.distinguished_comments:
        out.append(
            w.ntr("{n} comment was posted by moderators or admins speaking officially.",
                  "{n} comments were posted by moderators or admins speaking officially.",
                  stats.distinguished_comments)
        )  # fmt: skip
    if stats.top_decile_score_share >= 0.8 and stats.comments_present >= 20 and o.scored:
        took = N_("upvotes") if o.is_reddit else o.score_unit[1] if o.score_unit else ""
        out.append(w.tr("Attention is concentrated: a few comments took most of the {took}.",
                        took=w.tr(took) if took else ""))  # fmt: skip
    if cov.fetched < post.num_comments * 0.5:
        out.append(
            w.ntr("Only {n} of {total} was fetched; the rest may change the picture.",
                  "Only {n} of {total} were fetched; the rest may change the picture.",
                  cov.fetched, total=_comments(w, post.num_comments))
        )  # fmt: skip
    return out
