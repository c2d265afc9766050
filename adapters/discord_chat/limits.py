"""Discord's size limits, and the room this adapter keeps inside them
(https://discord.com/developers/docs/resources/message#embed-object-embed-limits)."""

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_THREAD_NAME = 100
MAX_CHOICES = 25
INLINE_MAX = 40  # a field this short sits beside others; longer ones get a row of their own

DOC_FOOTER_MAX = 1200  # coverage, analyser and notes; the rest of the footer is the marker
MARKER_ROOM = 48  # " · page 12/12 · ref 0123456789ab"
