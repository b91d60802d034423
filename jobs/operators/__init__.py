"""The operators' face: the Django admin (jobs and billing), the dashboard, the health
probes, Prometheus metrics and the views that serve stored files (signed outputs,
thumbnails). It depends on the domain (jobs/, billing/); nothing in the domain imports it."""
