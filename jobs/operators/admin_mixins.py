"""Shared admin building blocks."""

from __future__ import annotations


class ReadOnlyAdminMixin:
    """For records nobody edits by hand (jobs, ledger rows, delivery attempts): view only.
    Works for ModelAdmins and inlines (Django passes `obj` to the inline hooks only)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
