"""Request body parsers: DRF's, with every malformed body a ParseError (so a 400 in the API's
error shape) rather than a 500."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

LONE_SURROGATE = (
    "JSON parse error - the body holds a lone surrogate escape (such as \\ud800), which is not "
    "text: every string must be valid Unicode."
)


def has_lone_surrogate(value) -> bool:
    """Whether any string in a parsed JSON value (keys included) holds a lone UTF-16
    surrogate, as json.loads makes of an escape like "\\ud800": no database, page or HTTP
    header can carry it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json.loads recurses per nesting level: a body of 100,000 "[" exhausts the stack.
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        if has_lone_surrogate(data):
            raise ParseError(LONE_SURROGATE)
        return data
