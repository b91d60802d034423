"""How the API surfaces plug into the domain, called once when the app loads (jobs/apps.py),
like every face's wire(): each surface registers the shape of its webhook bodies and its
curl command (jobs/surfaces.py), and the API key scheme is documented in the OpenAPI schema."""

from __future__ import annotations

from jobs import surfaces
from jobs.models import Job


def wire() -> None:
    from jobs.api import curl as upsampler_curl
    from jobs.api import openapi  # noqa: F401  (registers the key scheme's schema extension)
    from jobs.api import serializers as upsampler
    from jobs.api.apixo import curl as apixo_curl
    from jobs.api.apixo import payloads as apixo
    from jobs.api.maskr import curl as maskr_curl
    from jobs.api.ximilar import curl as ximilar_curl
    from jobs.api.ximilar import payloads as ximilar

    surfaces.register_webhook_body(Job.Surface.UPSAMPLER, upsampler.webhook_body)
    surfaces.register_webhook_body(Job.Surface.XIMILAR, ximilar.webhook_body)
    surfaces.register_webhook_body(Job.Surface.APIXO, apixo.webhook_body)
    surfaces.register_curl(Job.Surface.UPSAMPLER, upsampler_curl.command)
    surfaces.register_curl(Job.Surface.XIMILAR, ximilar_curl.command)
    surfaces.register_curl(Job.Surface.APIXO, apixo_curl.command)
    surfaces.register_curl(Job.Surface.MASKR, maskr_curl.command)
