"""Template helpers for the web app's pages: status labels and colours, durations, icons."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

register = template.Library()

STATUS = {
    "IN_QUEUE": ("In queue", "badge-warning"),
    "IN_PROGRESS": ("In progress", "badge-info live"),
    "SUCCESS": ("Done", "badge-success"),
    "FAILED": ("Failed", "badge-danger"),
    "CANCELED": ("Canceled", ""),
}

# 24x24 stroke icons, drawn for this app.
ICONS = {
    "logo": (
        '<path d="M4 15V20H9"/>',
        '<path d="M20 9V4H15"/>',
        '<path d="M4 20L10.5 13.5"/>',
        '<path d="M20 4L13.5 10.5"/>',
    ),
    "playground": (
        '<path d="M12 3l1.9 5.1L19 10l-5.1 1.9L12 17l-1.9-5.1L5 10l5.1-1.9z"/>',
        '<path d="M19 15l.8 2.2L22 18l-2.2.8L19 21l-.8-2.2L16 18l2.2-.8z"/>',
    ),
    "jobs": (
        '<rect x="3" y="4" width="18" height="16" rx="2"/>',
        '<path d="M3 9h18"/>',
        '<path d="M8 14h8"/>',
    ),
    "keys": (
        '<circle cx="8" cy="15" r="4"/>',
        '<path d="M11 12l9-9"/>',
        '<path d="M16 7l3 3"/>',
        '<path d="M14 9l2 2"/>',
    ),
    "webhooks": ('<path d="M13 3L5 13h6l-1 8 8-10h-6z"/>',),
    "credits": (
        '<ellipse cx="12" cy="6" rx="8" ry="3"/>',
        '<path d="M4 6v6c0 1.7 3.6 3 8 3s8-1.3 8-3V6"/>',
        '<path d="M4 12v6c0 1.7 3.6 3 8 3s8-1.3 8-3v-6"/>',
    ),
    "signout": (
        '<path d="M15 17l5-5-5-5"/>',
        '<path d="M20 12H9"/>',
        '<path d="M12 20H6a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2h6"/>',
    ),
    "upload": (
        '<path d="M12 16V4"/>',
        '<path d="M7 9l5-5 5 5"/>',
        '<path d="M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3"/>',
    ),
    "image": (
        '<rect x="3" y="4" width="18" height="16" rx="2"/>',
        '<circle cx="9" cy="10" r="2"/>',
        '<path d="M21 16l-5-5-9 9"/>',
    ),
    "download": (
        '<path d="M12 4v12"/>',
        '<path d="M7 11l5 5 5-5"/>',
        '<path d="M4 20h16"/>',
    ),
    "copy": (
        '<rect x="9" y="9" width="11" height="11" rx="2"/>',
        '<path d="M5 15V5a1 1 0 0 1 1-1h10"/>',
    ),
    "check": ('<path d="M5 12.5l4.5 4.5L19 7.5"/>',),
    "alert": (
        '<circle cx="12" cy="12" r="9"/>',
        '<path d="M12 7.5v5.5"/>',
        '<path d="M12 16.5v.01"/>',
    ),
    "info": (
        '<circle cx="12" cy="12" r="9"/>',
        '<path d="M12 11v5"/>',
        '<path d="M12 7.5v.01"/>',
    ),
    "arrows": (
        '<path d="M9 7l-5 5 5 5"/>',
        '<path d="M15 7l5 5-5 5"/>',
    ),
    "back": ('<path d="M15 6l-6 6 6 6"/>',),
    "chart": (
        '<path d="M4 20V10"/>',
        '<path d="M10 20V4"/>',
        '<path d="M16 20v-7"/>',
        '<path d="M22 20H2"/>',
    ),
    "send": (
        '<path d="M21 3L10 14"/>',
        '<path d="M21 3l-7 18-4-7-7-4z"/>',
    ),
    "eye": (
        '<path d="M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z"/>',
        '<circle cx="12" cy="12" r="3"/>',
    ),
    "refresh": (
        '<path d="M20 11a8 8 0 0 0-14.9-3.5"/>',
        '<path d="M4 4v4h4"/>',
        '<path d="M4 13a8 8 0 0 0 14.9 3.5"/>',
        '<path d="M20 20v-4h-4"/>',
    ),
    "plus": (
        '<path d="M12 5v14"/>',
        '<path d="M5 12h14"/>',
    ),
    "link": (
        '<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1"/>',
        '<path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>',
    ),
}


@register.simple_tag
def icon(name: str, css: str = "icon") -> str:
    return format_html(
        '<svg class="{}" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" '
        'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">{}</svg>',
        css,
        mark_safe("".join(ICONS[name])),  # constant markup from ICONS above
    )


@register.filter
def status_label(status: str) -> str:
    return STATUS.get(status, (status, ""))[0]


@register.filter
def status_class(status: str) -> str:
    return STATUS.get(status, (status, ""))[1]


@register.filter
def duration(seconds: float | None) -> str:
    """1.2 s, 14 s, 3 min 5 s; a dash for none."""
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.filter
def signed(value: int) -> str:
    return f"+{value:,}" if value > 0 else f"−{abs(value):,}" if value < 0 else "0"


@register.filter
def credits(value: int) -> str:
    return f"{value:,} credit" if value == 1 else f"{value:,} credits"


@register.filter
def megapixels(job) -> str:
    return f"{job.output_width * job.output_height / 1e6:.2f} MP"


@register.filter
def get(mapping: dict, key: str):
    return mapping.get(key, "") if mapping else ""


@register.filter
def grouped(value: int) -> str:
    return f"{value:,}"


# Every date and time the pages write, one way: "Dec 7, 2026, 14:05 UTC" (`when`), or how
# long ago with that in its tooltip (`ago`).
DATE_FORMAT = "M j, Y, H:i"


def _absolute(value: datetime) -> str:
    return f"{dateformat.format(timezone.localtime(value, UTC), DATE_FORMAT)} UTC"


@register.filter
def when(value: datetime | None) -> str:
    """ "Dec 7, 2026, 14:05 UTC", as a <time> element."""
    if value is None:
        return "–"
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), _absolute(value))


@register.filter
def ago(value: datetime | None) -> str:
    """ "just now", "3 minutes ago", "2 days, 4 hours ago"; the date itself in its tooltip."""
    if value is None:
        return "–"
    text = "just now" if (timezone.now() - value).total_seconds() < 60 else f"{timesince(value)} ago"
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), _absolute(value), text)


@register.filter
def param(value) -> str:
    """A job parameter as the API's JSON writes it: true/false, 2 rather than 2.0."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return '""' if value == "" else str(value)
