"""Page-number pagination for list endpoints (DRF's), with the API's query names and 400s
that name the parameter instead of DRF's 404 "Invalid page"."""

from __future__ import annotations

from django.core.paginator import InvalidPage
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from jobs.errors import InvalidRequest


class JobPagination(PageNumberPagination):
    page_query_param = "page"
    page_size_query_param = "pageSize"
    page_size = 20
    max_page_size = 100

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return _whole_number(self.page_size_query_param, raw, 1, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self.get_page_size(request)
        paginator = self.django_paginator_class(queryset, size)
        raw = request.query_params.get(self.page_query_param)
        number = 1 if raw is None else _whole_number(self.page_query_param, raw, 1, paginator.num_pages)
        try:
            self.page = paginator.page(number)
        except InvalidPage as exc:  # pragma: no cover - the range check above comes first
            raise InvalidRequest(f"page is out of range: {exc}", field="page") from None
        self.page_size_used = size
        return list(self.page)

    def get_paginated_response(self, data) -> Response:
        assert self.page is not None  # paginate_queryset ran
        return Response(
            {
                "count": self.page.paginator.count,
                "page": self.page.number,
                "pageSize": self.page_size_used,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )


def _whole_number(name: str, raw: str, lowest: int, highest: int) -> int:
    # Digits only, and compared as text length first, so a 30-digit page never reaches the
    # database (a bigint overflow there was a 500).
    digits = raw.strip()
    if digits.isdigit() and len(digits) <= len(str(highest)) and lowest <= int(digits) <= highest:
        return int(digits)
    raise InvalidRequest(f"{name} must be a whole number from {lowest} to {highest} (got {raw!r}).", field=name)
