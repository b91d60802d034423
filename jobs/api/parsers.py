"""Request body parsers: DRF's, with every malformed body a ParseError (so a 400 in the API's
error shape) rather than a 500."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json.loads recurses per nesting level: a body of 100,000 "[" exhausts the stack.
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
