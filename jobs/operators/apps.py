from django.contrib.admin.apps import AdminConfig


class OperatorsAdminConfig(AdminConfig):
    """django.contrib.admin with the operators' site (jobs/operators/site.py) as admin.site."""

    default_site = "jobs.operators.site.OperatorsAdminSite"
