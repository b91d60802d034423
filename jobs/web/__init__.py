"""The customers' web app: sign in, try an upscale, see jobs, manage API keys, webhooks and
credits. Another surface beside jobs/api/ (jobs it submits are Job.Surface.WEB), on the same
submission path, ledger, job model and webhook delivery. Server-rendered Django templates
(jobs/templates/web/) with small scripts of its own (jobs/static/web/)."""
